/*
 * Lab only (test/live/harness/whole-host.ts): GlusterFS decides whether a peer or brick address is
 * "this host" with gf_is_local_addr(), which counts EVERY 127.0.0.0/8 address as local
 * (libglusterfs common-utils.c, gf_is_loopback_localhost: first octet 127). The whole-host lab's
 * hosts have 127.0.x.y addresses of their own, so unpatched, glusterd on each storage host takes
 * every peer for itself ("peer probe: Probe on localhost not needed") and tries to start every
 * brick locally. Preloaded into glusterd, this answers as GlusterFS does for an ordinary address:
 * local only when the name resolves to an address of one of this network namespace's interfaces
 * (what gf_interface_search() checks), so 127.0.0.1 on lo stays local and a peer's 127.0.x.y is not.
 */
#define _GNU_SOURCE
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

static int same(const struct sockaddr *a, const struct sockaddr *b) {
  if (!a || !b || a->sa_family != b->sa_family) return 0;
  if (a->sa_family == AF_INET)
    return ((const struct sockaddr_in *)a)->sin_addr.s_addr == ((const struct sockaddr_in *)b)->sin_addr.s_addr;
  if (a->sa_family == AF_INET6)
    return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr, &((const struct sockaddr_in6 *)b)->sin6_addr, sizeof(struct in6_addr)) == 0;
  return 0;
}

int gf_is_local_addr(char *hostname) {
  struct addrinfo hints, *res = NULL, *r;
  struct ifaddrs *ifs = NULL, *i;
  int found = 0;
  if (!hostname) return 0;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  if (getaddrinfo(hostname, NULL, &hints, &res) != 0) return 0;
  if (getifaddrs(&ifs) == 0) {
    for (r = res; r && !found; r = r->ai_next)
      for (i = ifs; i && !found; i = i->ifa_next) found = same(r->ai_addr, i->ifa_addr);
    freeifaddrs(ifs);
  }
  freeaddrinfo(res);
  return found;
}
