#!/bin/sh
# The official haproxy image's entrypoint: `haproxy ARGS` becomes `haproxy -W -db ARGS` (master-worker,
# foreground); an argument list starting with '-' gets haproxy in front.
set -e
if [ "${1#-}" != "$1" ]; then
	set -- haproxy "$@"
fi
if [ "$1" = 'haproxy' ]; then
	shift
	set -- haproxy -W -db "$@"
fi
exec "$@"
