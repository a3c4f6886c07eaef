// Package collective is JellyBean's communication layer: authenticated TCP connections between the ranks
// of one job, carrying checksummed (and optionally zstd-compressed) frames. Only rank 0's address need be
// known in advance (the rendezvous, rendezvous.go); a sparse communicator connects a 4-ary control tree at
// start-up and any other pair on first use (connect.go, tree.go), so sockets per rank do not grow with the job.
//
// It offers MPI-style collectives (AllToAllV, Barrier) and a streaming point-to-point channel (Send/Recv)
// with credit-based flow control, so a slow consumer applies backpressure instead of growing memory.
//
// Layers, bottom up:
//   - frame.go: the wire format (fixed header, CRC32C, hard size limit) over any Stream (net.Conn-like).
//   - handshake.go: job id, ranks, protocol version and a mutual HMAC-SHA256 challenge-response.
//   - codec.go: per-connection zstd encoder/decoder reuse and the `auto` compression policy.
//   - connect.go, rendezvous.go: start-up, the rendezvous, connections on first use (either side may dial).
//   - tree.go: the control tree, SparseAllToAllV (routed over the tree) and Barrier.
//   - comm.go, peer.go, ops.go: the communicator (per-peer reader, heartbeats, faults, operations).
//   - tensor.go: the tensor batch encoding carried inside messages (zero-copy decode).
//
// Fault model: a peer that resets, dies, sends a bad frame or stays silent past HeartbeatTimeout makes
// every pending and later operation return a *PeerError naming it; the rank that noticed tells every
// peer it is connected to at once (an abort frame naming the culprit), and they pass it on, so the fault
// reaches every rank through the tree within a few round trips. A peer that calls Close says goodbye
// first; that is not a fault (operations that need that peer fail, the rest go on).
package collective
