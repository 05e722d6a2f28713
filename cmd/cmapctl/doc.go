// Command cmapctl is corogo's corosync-cmapctl, read-only: it prints the
// keys of corosyncd's configuration map (the configuration as loaded,
// runtime.* state and stats.* counters) exactly as corosync-cmapctl does.
//
//	cmapctl [-b] [-m icmap|stats] [KEY_PREFIX...]   keys with these prefixes (all without one)
//	cmapctl [-b] [-q] -g KEY...                     the given keys
//	cmapctl -s KEY TYPE VALUE | -d KEY... | -D PREFIX... | -p FILE | -t KEY | -T PREFIX | -C WHAT
//	                                                not supported: the map is read-only
//
// Output, one key a line, in byte order of the key:
//
//	runtime.config.totem.token (u32) = 3000
//	totem.transport (str) = udpu
//	totem.secret (bin)                  binary values, without -b
//	totem.secret (bin) = ab\x00\\       with -b
//
// -q (with -g) prints the value alone. Options: -b show binary values;
// -m selects the map, "icmap" (or "default": every key but stats.*) or
// "stats" (only stats.*), as corosync 3 splits them; --socket PATH (also
// -socket) is corosyncd's socket, default $COROSYNCD_SOCKET, else
// /run/corosyncd/corosyncd.sock; -h prints the usage.
//
// Exit status: 0 on success; 1 on an error, a missing key (-g), when no
// key matched any prefix given (or the map is empty), and for every write
// ("Failed to set key K. Error CS_ERR_NOT_SUPPORTED" and the like).
package main
