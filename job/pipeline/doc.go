// Package pipeline is the rank program of `jellybean run`: given its role in the job (package ranks), a
// rank reads its data shard, runs its stage's model on micro-batches, routes results to the next stage
// over the collective, and (the sink) writes results, timing and the job summary.
//
// Inside a rank three goroutines form a pipeline joined by small bounded channels, so that reading,
// computing and sending overlap:
//
//	receive (Recv, decode, join)  ->  compute (micro-batch, ONNX Runtime)  ->  send (route, pack, Send)
//
// Sources replace receive by generate (their shard of the manifest, paced by input_rate); the sink's
// compute writes results.jsonl and it sends nothing. The first error in any goroutine cancels the others.
//
// Between ranks every message is a stream message on an edge: data (a packed batch of items), end of
// stream (empty; sent to every worker of the next stage after the last item, only on success), abort
// (a failing rank's error, so that peers report the first failure, not its echo), and ack (join or
// fan-in -> sources). Routing depends only on the item id (ranks.Layout.Route), so both halves of an item meet at
// the same join worker.
//
// Memory is bounded whatever the dataset size and however widely an item fans out (bounds.go gives the
// bound as a formula): results travel in chunks of at most a micro-batch, channel depths and the
// collective's per-peer credit bound each link, a streaming fan-out hands its sub-items on as it makes
// them under that backpressure, and each source may have at most a window of items that its window stage
// (the last join of whole items or fan-in back to whole items downstream of it) has not completed yet
// (acknowledged by that stage), which bounds the half-joined items a join holds when one branch is faster
// than the other and the incomplete families a fan-in holds.
//
// The job starts and ends with one AllToAllV each: at the start the sink tells every rank which items an
// earlier run finished (resume); at the end every rank sends its statistics to the sink for summary.json.
package pipeline
