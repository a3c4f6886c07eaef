// Package collective is JellyBean's communication layer: a full mesh of authenticated TCP connections
// between the ranks of one job, carrying checksummed (and optionally zstd-compressed) frames.
//
// It offers MPI-style collectives (AllToAllV, Barrier) and a streaming point-to-point channel (Send/Recv)
// with credit-based flow control, so a slow consumer applies backpressure instead of growing memory.
//
// Layers, bottom up:
//   - frame.go: the wire format (fixed header, CRC32C, hard size limit) over any Stream (net.Conn-like).
//   - handshake.go: job id, ranks, protocol version and a mutual HMAC-SHA256 challenge-response.
//   - codec.go: per-connection zstd encoder/decoder reuse and the `auto` compression policy.
//   - comm.go, peer.go, ops.go: the communicator (start-up, per-peer reader, heartbeats, faults, operations).
//   - tensor.go: the tensor batch encoding carried inside messages (zero-copy decode).
//
// Fault model: a peer that resets, dies, sends a bad frame or stays silent past HeartbeatTimeout makes
// every pending and later operation return a *PeerError naming it. A peer that calls Close says goodbye
// first; that is not a fault (operations that need that peer fail, the rest go on).
package collective
