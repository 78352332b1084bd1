#!/bin/sh
# Makes what compose.yaml reads from deploy/secrets/ and deploy/tls/:
# random passwords for PostgreSQL and Redis and the URLs that carry them,
# a signing key, a data key, and a self-signed certificate for localhost
# (replace it with your own for anything but trying). A file that exists
# is kept, so running it again changes nothing.
set -eu
cd "$(dirname "$0")"

mkdir -p secrets tls
chmod 700 secrets

# keep NAME: true if secrets/NAME exists, saying so.
keep() {
	if [ -e "secrets/$1" ]; then
		echo "kept    deploy/secrets/$1"
		return 0
	fi
	return 1
}

# put NAME VALUE: writes VALUE and a newline to secrets/NAME unless it
# exists. printf is built into the shell: VALUE is on no command line.
put() {
	keep "$1" && return 0
	printf '%s\n' "$2" >"secrets/$1"
	echo "made    deploy/secrets/$1"
}

# random NAME: 32 random bytes as hex into secrets/NAME unless it exists.
# Hex, so that a password needs no escaping inside a URL.
random() {
	keep "$1" && return 0
	openssl rand -hex 32 >"secrets/$1"
	echo "made    deploy/secrets/$1"
}

random db_password
random redis_password # the source of redis.conf and redis_url; no container reads it
random jwt_secret
random data_key
db_password=$(cat secrets/db_password)
redis_password=$(cat secrets/redis_password)
# PostgreSQL and Redis are reachable on compose's internal network only,
# hence no TLS to them.
put db_url "postgres://authd:$db_password@postgres:5432/authd?sslmode=disable"
put redis.conf "requirepass $redis_password"
put redis_url "redis://:$redis_password@redis:6379/0"
# Readable by the containers' users: the directory keeps others out.
chmod 444 secrets/*

if [ -e tls/fullchain.pem ] || [ -e tls/privkey.pem ]; then
	echo "kept    deploy/tls/"
else
	openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=localhost \
		-addext subjectAltName=DNS:localhost -keyout tls/privkey.pem -out tls/fullchain.pem 2>/dev/null
	chmod 600 tls/privkey.pem
	echo "made    deploy/tls/fullchain.pem and privkey.pem (self-signed, localhost, 30 days)"
fi
