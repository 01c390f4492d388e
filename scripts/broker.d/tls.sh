# shellcheck shell=bash
# Sourced by scripts/broker: the certificates of `start --tls` (the test CA, the server and client
# certificates, the encrypted client key, a second CA), made with the openssl CLI.

TLS_FILES="ca.pem ca.der cadir server.pem server.key client.pem client.key client-combined.pem
client-encrypted.key client-key.password other-ca.pem other-ca.der other-server.pem other-server.key"

tls_complete() {
    local dir=$1 f
    for f in $TLS_FILES; do [ -e "$dir/$f" ] || return 1; done
    ls "$dir/cadir/"*.0 >/dev/null 2>&1
}

# make_tls DIR: a CA, a server (CN=localhost) and a client (CN=guest) certificate signed by it, the
# client key encrypted with a random password, and a second CA with its own server certificate.
# Keeps DIR as it is when every file is already there.
make_tls() {
    local dir=$1 work f
    command -v openssl >/dev/null 2>&1 || die "--tls needs the openssl command"
    case "$dir" in *[[:space:]]* | *'"'* | *"'"*) die "TLS folder '$dir' has a space or quote (rabbitmq.conf cannot hold it)" ;; esac
    if tls_complete "$dir"; then
        say "using the TLS certificates in $dir"
        return 0
    fi
    say "making TLS certificates in $dir"
    mkdir -p "$dir"
    chmod 0755 "$dir"
    work=$(mktemp -d "$TMP_BASE/swiftamqp-tls-work.XXXXXX")
    # CA keys live only in $work: nothing can sign more certificates afterwards.
    ossl() {
        if ! openssl "$@" >"$work/openssl.out" 2>&1; then
            cat "$work/openssl.out" >&2
            rm -rf "$work"
            die "openssl $1 failed"
        fi
    }
    new_ca() { # NAME CN
        ossl req -x509 -new -newkey rsa:2048 -nodes -sha256 -days 30 -keyout "$work/$1.key" \
            -subj "/O=swiftamqp tests/CN=$2" \
            -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
            -out "$dir/$1.pem"
    }
    new_cert() { # NAME CN CA EXTENSIONS
        ossl req -new -newkey rsa:2048 -nodes -keyout "$dir/$1.key" -subj "/O=swiftamqp tests/CN=$2" \
            -out "$work/$1.csr"
        printf '%b\n' "$4" >"$work/$1.ext"
        ossl x509 -req -sha256 -days 30 -in "$work/$1.csr" -CA "$dir/$3.pem" -CAkey "$work/$3.key" \
            -set_serial "0x$(openssl rand -hex 8)" -extfile "$work/$1.ext" -out "$dir/$1.pem"
    }
    local server_ext='basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1'
    local client_ext='basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth'
    (
        umask 077
        rm -rf "$dir/cadir"
        for f in $TLS_FILES; do rm -f "$dir/$f"; done
        new_ca ca "swiftamqp test CA"
        new_cert server localhost ca "$server_ext"
        new_cert client guest ca "$client_ext"
        new_ca other-ca "swiftamqp other test CA"
        new_cert other-server localhost other-ca "$server_ext"
        ossl x509 -in "$dir/ca.pem" -outform DER -out "$dir/ca.der"
        ossl x509 -in "$dir/other-ca.pem" -outform DER -out "$dir/other-ca.der"
        cat "$dir/client.pem" "$dir/client.key" >"$dir/client-combined.pem"
        openssl rand -hex 16 >"$dir/client-key.password"
        ossl pkey -in "$dir/client.key" -aes256 -passout "file:$dir/client-key.password" -out "$dir/client-encrypted.key"
        mkdir "$dir/cadir"
        cp "$dir/ca.pem" "$dir/cadir/ca.pem"
        if ! openssl rehash "$dir/cadir" >/dev/null 2>&1; then
            ossl x509 -in "$dir/ca.pem" -noout -hash
            ln -s ca.pem "$dir/cadir/$(cat "$work/openssl.out").0"
        fi
        # Certificates are public; keys stay with their owner, the broker's key with the broker's user.
        chmod 0755 "$dir/cadir"
        chmod 0644 "$dir"/*.pem "$dir"/*.der "$dir/cadir/ca.pem"
        chmod 0600 "$dir"/*.key "$dir/client-combined.pem" "$dir/client-key.password"
    ) || {
        rm -rf "$work"
        die "could not make the TLS certificates in $dir"
    }
    rm -rf "$work"
    if [ "$RUN_USER" != "$(id -un)" ]; then
        chown "$RUN_USER:" "$dir/server.key" "$dir/other-server.key"
    fi
    tls_complete "$dir" || die "could not make the TLS certificates in $dir"
}
