// Package config reads corosync.conf (corosync 3.1's syntax and options,
// corosync.conf(5), votequorum(5)) and the same settings written in TOML,
// checks them as corosync does, and converts them for the daemon: the
// Totem protocol configuration (Config.Totem), the transport's sockets and
// peers (Config.Transport), the local node (Config.LocalNode) and the
// effective values in corosync-cmapctl's format (Config.WriteEffective,
// for "corosyncd -t").
//
// # Stages
//
// Loading follows corosync's own structure:
//
//  1. Parse (or ParseTOML) builds a generic Tree of sections and keys,
//     each with its line; syntax errors carry file and line.
//  2. The tree is flattened into a Map as corosync's parser fills cmap:
//     "nodelist.node.N.*" numbered in file order, "totem.interface.L.*" by
//     link number, "logging.logger_subsys.SUBSYS.*", uidgid entries
//     resolved to numbers, numbers typed (u8/u16/u32/u64/i32) with
//     corosync's ranges.
//  3. The Map is read into the typed Config with corosync 3.1's defaults
//     (shared/spec/corosync-reference.md §1.3), and checked: corosync's own
//     checks (version, crypto with udpu/udp, timer minimums, consensus ≥
//     join, duplicate node ids, one IP family per link, one link for
//     udpu/udp, multicast address rules, votequorum's incompatibilities),
//     then totem.Config.Validate for the limits of this implementation,
//     each problem reported at the line of the key it is about.
//
// Every problem is collected, not just the first: unknown or obsolete keys
// and sections are warnings (Config.Warnings), bad values are errors,
// returned together in an *Error. Host names in ringX_addr are resolved
// through Options.Resolver; local addresses and the host name come from
// LocalOptions; nothing else touches the system, and the package has no
// mutable package-level state.
//
// # Deviations from corosync 3.1
//
//   - transport knet, corosync 3's default when totem.transport is not
//     set, is refused (ErrKnetUnsupported); knet-only keys are accepted
//     with a warning.
//   - corosync stops at the first syntax or value error; this package
//     reports all of them.
//   - Values corosync silently replaces by the default are errors here:
//     "on"/"off" for the totem yes/no keys (block_unlisted_ips, …), an
//     unknown totem.transport. A 0 for a timer corosync replaces by its
//     default is accepted with a warning, as corosync does.
//   - Unknown keys and sections, which corosync stores silently, are
//     warnings.
//   - totem.mcastport is accepted as an extension (corosync reads the
//     port from totem.interface only) and warned about.
//   - Two nodes with the same ring0_addr are an error (corosync accepts
//     them); two nodes with the same name are a warning.
//   - totem.Config.Validate adds limits corosync does not have (for
//     example token_warning below 100, max_messages ≤ window_size, netmtu
//     in 576..65536, and consensus ≥ 1.2 × token when configured with
//     three or more nodes).
//   - Local node discovery (Config.LocalNode) tries the interface
//     addresses first and the host name second, and fails when a step
//     matches several nodes; corosync tries the host name first and takes
//     the first match.
//   - A host name in ringX_addr is resolved once at load time through the
//     Go resolver (getaddrinfo's order is not reproduced exactly), and a
//     node id is generated from the resolved IPv4 address.
//   - EffectiveMap adds system.state_dir when it is not configured;
//     corosync does not store it.
//   - ClusterID treats bytes as signed, as corosync does on x86-64.
//
// The quorum.device, resources and nozzle sections are kept as parsed
// (Quorum.Device, Config.Resources, Config.Nozzle) for later consumers.
package config
