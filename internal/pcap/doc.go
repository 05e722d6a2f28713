// Package pcap reads classic libpcap capture files and extracts the UDP
// datagrams they carry. It exists so that tests can check codecs against
// packets captured from real corosync nodes; it is not a general packet
// library.
//
// Contract:
//
//   - File format: the classic pcap format (not pcapng), in either byte
//     order, with microsecond (0xa1b2c3d4) or nanosecond (0xa1b23c4d)
//     timestamps.
//   - Link types: Ethernet (1, with or without 802.1Q/802.1ad tags), Linux
//     cooked capture v1 (113) and v2 (276), and raw IP (101).
//   - Network layer: IPv4 only, with reassembly of IP fragments (in any
//     arrival order, overlaps resolved first come first served). Other
//     network protocols and non-UDP IPv4 packets are skipped.
//   - UDP: the payload is cut to the UDP length field. Checksums are not
//     verified, because captures taken on the sending host carry checksums
//     left to offload hardware.
//
// Malformed frames (too short, bad IP header, truncated by the snap length)
// are skipped and counted, never fatal; only a malformed file structure is an
// error. Nothing here panics on any input.
package pcap
