// Package splitrun executes a deployment plan's placement (its choice, or
// any switch table row): the device runs its nodes, encodes the tensors
// crossing its uplink and sends them to the server; each tier behind
// decodes them, runs its nodes, sends on what crosses the next hop and
// returns the results of the tasks finished at or beyond it; the device
// runs its own heads meanwhile. Block cuts, cuts between layers and
// placements over more tiers take the same path. Each inference is timed
// part by part and set against the plan's prediction.
//
// # The server's protocol
//
// Server speaks the Open Inference Protocol (KServe v2) over HTTP
// (package oip): GET /v2/health/live, /v2/health/ready,
// /v2/models/{name} (metadata: the cut tensors it takes, the tasks, and
// parameters graph_hash, file_sha256, seed and tier, which an Edge checks
// against its own before sending), /v2/models/{name}/ready, /metrics
// (Prometheus text) and POST /v2/models/{name}/infer. {name} is the
// plan's model.name. One server process serves every cut of its model:
// the request says what it sends and what it wants, and the server works
// out which nodes to run (cached per request shape), so an edge may
// change its cut (any switch-table row) between two requests.
//
// An inference request names:
//
//   - inputs: the tensors crossing the hop, each named by its graph node
//     (Model.TensorName: the node's name, or name#k for the k-th of
//     several nodes that share a name), with its encoding as a tensor
//     parameter: {"encoding":"fp32"|"fp16"|"int8"|"int4", optionally
//     followed by "+zstd"}. fp32 and fp16 travel as FP32/FP16 tensors of
//     the node's shape with a leading batch of 1 ([1,C,H,W]); every other
//     encoding as a BYTES tensor of shape [1] whose one element is the
//     engine's encoding (int8/int4: an 8-byte header, float32 scale and
//     int32 zero point little-endian, then the codes; +zstd: that,
//     compressed). Without an encoding parameter, FP32 means fp32 and
//     FP16 fp16. Any tensor may travel as JSON data or, with the binary
//     tensor data extension, as binary_data_size bytes after a JSON
//     header of Inference-Header-Content-Length bytes. Only cut tensors
//     are accepted: the input, every block's output, and every tensor
//     the plan's choice or a switch-table row sends (the others are
//     fused into their next layer).
//   - outputs: the tasks wanted, by task name (none: every task), each
//     answered as an FP32 [1, classes] tensor of logits, in binary when
//     the output's parameter binary_data (or the request's
//     binary_data_output) is true.
//
// For example, a cut after block features.4 of mobilenet_v3_small at 64 px
// (a 40×4×4 tensor) sent in int8:
//
//	POST /v2/models/mobilenet_v3_small/infer
//	Inference-Header-Content-Length: <the JSON's length in bytes>
//	{"id":"7","inputs":[{"name":"features.4.block.3.1","shape":[1],"datatype":"BYTES",
//	  "parameters":{"encoding":"int8","binary_data_size":652}}],
//	 "outputs":[{"name":"task1","parameters":{"binary_data":true}},{"name":"task2"}]}
//	<652 bytes: the u32 length 648, then the scale, the zero point and 640 codes>
//
// The request's parameter model_id ("graph hash:weights file
// SHA-256:seed", as an Edge sends it) is optional; when given, a server
// running other weights refuses the request (400) instead of answering
// with its own.
//
// The response carries parameters server_ms (from a worker taking the
// request to its answer), queue_ms (waiting for a worker) and recv_ms
// (first to last byte of the request body arriving: bytes/recv_ms is the
// uplink's bandwidth as the server saw it), recv_tail_bytes and
// recv_tail_ms (the body's tail, adapt.Tail over the server's reads: the
// bytes after the last read that left at least half the body, and
// at least two packets, still to come, and the time they took; absent when
// the first read brought more), the rate an Adaptive edge samples, since
// it describes the link as it is when the transfer ends, not averaged over
// an outage the transfer sat through) and idle_ms (how long the worker
// had nothing to do before it took the request: a device computes slower
// after idling, and calibrate --runtime fits that from these gaps; an
// Edge's Timing carries it beside its own idle gap) and warm_ms (how much
// of that idle time the worker spent warming).
//
// Warming: on a shared machine weights left idle are evicted from the
// cache, and the first run after an idle gap is 2–3× slower (resnet18 at
// 128 px, one thread: 9.2 ms back to back, 22–27 ms after 260 ms idle);
// reading the weights first (engine.Program.Warm) makes the run fast
// again but costs as much, so both sides do it where they would wait
// anyway. An idle server worker warms its program when a request's body
// starts arriving, and again every 20 ms while bodies arrive (one read
// would be evicted again during a long transfer), each pass stopped when
// a job is queued, reading the nodes its last request ran (every node
// before the first); /metrics has its per-request total as the warm
// stage. An Edge warms the part its next input runs first while it waits
// for the reply (Timing.EdgeWarmMS). Server.NoWarm and Edge.NoWarm turn
// it off.
//
// A request with the parameter probe set to true is a bandwidth probe
// (Adaptive sends one when it has measured nothing for a while): its
// inputs, any tensors (an Edge sends one BYTES element of padding), are
// read and timed like any body and then discarded, without a worker or
// engine work; the answer has no outputs and parameters recv_ms (and
// recv_tail_bytes and recv_tail_ms when the body has a tail) and
// probe_bytes (the body's size). /metrics counts inference requests
// answered per cut (mtlsplit_cut_requests_total, labelled with the
// tensors sent, "+"-joined in graph order) and probes apart.
//
// Errors are the protocol's {"error": "..."} object: 400 for a malformed
// request or a tensor that does not match (naming the field, e.g.
// inputs[0].shape), 404 for an unknown model, tensor or task, 413 for a
// body past the model's largest request, 401 without the bearer token and
// 403 with another, 503 (with Retry-After) when the queue is full, the
// deadline passed in the queue, or the server is stopping.
//
// A tier that forwards (Server.Next) takes the tensors of a placement of
// the plan whose hop into it they are, runs its part and sends the next
// hop on in the same protocol.
//
// The input may also come as the camera's bytes: a UINT8 tensor
// [1,C,H,W] with encoding uint8, which the server normalizes as the plan's
// model.source.preprocess says (v/255, then mean and std per channel).
// Edge.InferImage sends it so when the input crosses the uplink
// (remote-only); a plan without recorded image preprocessing refuses it
// (400), and Edge.Infer, given float inputs, sends the input as int8 codes
// of the floats as before.
//
// It reads plans (package plan) and runs graphs (package engine); it never
// solves or plans.
package splitrun
