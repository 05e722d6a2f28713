// Package client holds what the daemon's small internal clients share:
// StatusError, the error a service's non-OK status becomes, and its
// sentinels. The clients themselves are in the subpackages: cfgclient
// (the cfg service, for cfgtool) and cmapclient (the cmap service, for
// cmapctl and cfgtool); clienttest runs the real service engines behind
// an in-process IPC server for their tests.
//
// These packages play the part of corosync's libcfg and libcmap for our
// own tools only: they are internal, speak our IPC protocol (package
// ipc), and offer the subset of calls the engines implement.
package client
