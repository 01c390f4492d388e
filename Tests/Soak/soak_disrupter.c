/*
 * swamqp_soak, the disrupter thread: every 1-5 s one disruption through the fault proxies (cut
 * every connection, cut one after N bytes, stall 5 s) or `rabbitmqctl close_connection`, until the
 * run's minimum time and number of disconnects (or its maximum time) are reached.
 */
#include "soak.h"

static bool close_one_by_ctl(unsigned *seed)
{
    const char *name = conn_names[rand_r(seed) % (unsigned)nconns];
    char pid[256];
    if (!bc_find_connection_pid(name, pid, sizeof pid))
        return false;
    return bc_ctl(NULL, 0, "close_connection '%s' 'swamqp_soak'", pid) == 0;
}

void *disrupter_main(void *arg)
{
    (void)arg;
    unsigned seed = opt_seed ^ 0x5eedu;
    int64_t start = now_ms();
    int64_t min_end = start + (int64_t)(opt_minutes * 60000);
    int64_t max_end = start + (int64_t)(opt_max_minutes * 60000);
    uint64_t last_report = 0;
    while (!stop_all) {
        if ((disconnects >= opt_disconnects && now_ms() >= min_end) || now_ms() >= max_end)
            break;
        int64_t wait = 1000 + rand_r(&seed) % 4001;
        int64_t until = now_ms() + wait;
        while (now_ms() < until && !stop_all)
            tu_sleep_ms(50);
        if (stop_all)
            break;
        unsigned pick = rand_r(&seed) % 100;
        bool done = false;
        const char *what = "";
        if (opt_ctl && !opt_cluster && (disconnects % 7) == 6) {
            done = close_one_by_ctl(&seed);
            what = "rabbitmqctl close_connection";
            if (done)
                ctl_count++;
        }
        if (!done && pick < 55) {
            bool rst = rand_r(&seed) % 2;
            int n = 0;
            for (int i = 0; i < nproxies; i++)
                n += fp_cut_all(proxies[i], rst);
            done = n > 0;
            cut_all_count++;
            what = rst ? "cut all (RST)" : "cut all (FIN)";
        } else if (!done && pick < 85) {
            int dir = rand_r(&seed) % 2 ? FP_CLIENT_TO_SERVER : FP_SERVER_TO_CLIENT;
            uint64_t bytes = 1 + (uint64_t)(rand_r(&seed) % 20000);
            fp_proxy *px = proxies[rand_r(&seed) % (unsigned)nproxies];
            fp_cut_after(px, dir, bytes);
            int64_t deadline = now_ms() + 3000;
            while (!fp_cut_fired(px) && now_ms() < deadline)
                tu_sleep_ms(10);
            if (!fp_cut_fired(px)) {
                fp_resume(px); /* disarm; cut everything instead */
                for (int i = 0; i < nproxies; i++)
                    fp_cut_all(proxies[i], false);
            }
            done = true;
            cut_after_count++;
            what = dir == FP_CLIENT_TO_SERVER ? "cut after N bytes client->server" : "cut after N bytes server->client";
        } else if (!done) {
            for (int i = 0; i < nproxies; i++)
                fp_stall(proxies[i]);
            tu_sleep_ms(5000);
            for (int i = 0; i < nproxies; i++)
                fp_resume(proxies[i]);
            done = true;
            stall_count++;
            what = "stall 5 s";
        }
        if (done)
            disconnects++;
        if (opt_verbose)
            fprintf(stderr, "soak: disruption %" PRIu64 ": %s\n", disconnects, what);
        if (disconnects / 10 != last_report / 10) {
            last_report = disconnects;
            fprintf(stderr, "soak: %.1f min: %" PRIu64 " disconnects, %" PRIu64 " recoveries, %" PRIu64
                    " confirmed, %" PRIu64 " deliveries\n", (double)(now_ms() - start) / 60000.0, disconnects,
                    __atomic_load_n(&recoveries_started, __ATOMIC_RELAXED),
                    __atomic_load_n(&confirms_total, __ATOMIC_RELAXED),
                    __atomic_load_n(&deliveries_total, __ATOMIC_RELAXED));
        }
    }
    return NULL;
}
