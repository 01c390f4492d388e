# shellcheck shell=bash
# Sourced by scripts/broker: `cluster start|status|stop`, three clustered nodes NAME-1..3.

# Each node is an ordinary node of this script (its own ports and state folder, so `status NAME-2`,
# `ctl NAME-2 ...` and `stop NAME-2` work on it); all run as the same user, so they share the
# Erlang cookie. NAME-2 and NAME-3 join NAME-1 (stop_app, join_cluster, start_app).
cluster_urls() { # NAME: prints AMQP_URLS=url1,url2,url3 and SWIFTAMQP_CLUSTER_NAME=NAME
    local name=$1 i url urls=""
    for i in 1 2 3; do
        url=$(sed -n 's/^AMQP_URL=//p' "$(state_dir "$name-$i")/urls" 2>/dev/null) || return 1
        [ -n "$url" ] || return 1
        urls="${urls:+$urls,}$url"
    done
    echo "AMQP_URLS=$urls"
    echo "SWIFTAMQP_CLUSTER_NAME=$name"
}

cluster_running_nodes() { # NODE: how many nodes of its cluster run
    rmqctl "$1" eval 'length(rabbit_nodes:all_running()).' 2>/dev/null | tr -dc '0-9'
}

cmd_cluster() {
    local action=${1:-} name=${2:-${SWIFTAMQP_CLUSTER_NAME:-swiftamqp-cluster}} i first
    [ "$#" -le 2 ] || usage
    check_name "$name"
    first="$name-1@localhost"
    case "$action" in
    start)
        local started=$SECONDS pids=() rc=0
        # The three boot in parallel (each alone takes about 6-12 s here); no fixed port, no TLS.
        for i in 1 2 3; do
            (unset SWIFTAMQP_BROKER_PORT; cmd_start "$name-$i" 0 >/dev/null) &
            pids+=($!)
        done
        for i in "${pids[@]}"; do wait "$i" || rc=1; done
        if [ "$rc" != 0 ]; then
            say "a node of cluster '$name' did not start; stopping the others"
            for i in 3 2 1; do (cmd_stop "$name-$i") >/dev/null 2>&1 || true; done
            exit 1
        fi
        for i in 2 3; do
            local node="$name-$i@localhost"
            if rmqctl "$node" eval 'rabbit_nodes:all().' 2>/dev/null | grep -q "'$name-1@localhost'"; then
                continue # already joined (a second start)
            fi
            say "joining $node to $first"
            rmqctl "$node" stop_app >&2 &&
                rmqctl "$node" join_cluster "$first" >&2 &&
                rmqctl "$node" start_app >&2 || {
                say "$node could not join $first; stopping cluster '$name'"
                for i in 3 2 1; do (cmd_stop "$name-$i") >/dev/null 2>&1 || true; done
                exit 1
            }
        done
        local deadline=$((SECONDS + TIMEOUT))
        until [ "$(cluster_running_nodes "$first")" = 3 ]; do
            if [ "$SECONDS" -ge "$deadline" ]; then
                say "cluster '$name' has not 3 running nodes after ${TIMEOUT}s"
                exit 1
            fi
            sleep 0.5
        done
        for i in 2 3; do rmqctl "$name-$i@localhost" await_startup --timeout "$TIMEOUT" >/dev/null 2>&1 || true; done
        say "cluster '$name' of 3 nodes ready in $((SECONDS - started))s"
        cluster_urls "$name"
        ;;
    status)
        local up=0
        for i in 1 2 3; do (cmd_status "$name-$i") >/dev/null 2>&1 && up=$((up + 1)); done
        if [ "$up" = 3 ] && [ "$(cluster_running_nodes "$first")" = 3 ]; then
            cluster_urls "$name"
            return 0
        fi
        say "cluster '$name': $up of 3 nodes running"
        return 1
        ;;
    stop)
        local rc=0
        for i in 3 2 1; do (cmd_stop "$name-$i") || rc=1; done
        return "$rc"
        ;;
    *) usage ;;
    esac
}
