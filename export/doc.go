// Package export writes a deployment plan's split as files other serving
// stacks run: the device's part of the network as edge.onnx (ending in the
// tensors it sends, plus the heads the device runs), each server tier's
// part as server.onnx (server_k.onnx with more than two tiers) taking the
// received tensors as inputs, a manifest naming every tensor with its
// shape, dtype and wire encoding (how a consumer decodes it), the heads on
// each side and the SHA-256 of every file, and a Triton model repository
// for the server part (ONNX Runtime backend).
//
// Check proves the files are the plan's network: it reads them back
// through the ONNX importer as one model and runs it on the engine side by
// side — tier by tier, each sent tensor encoded and decoded as the wire
// does — against the plan's model run by the engine, and, where ONNX
// Runtime's library is present, runs each file on it alone.
//
// TimeORT times the files of an export directory under ONNX Runtime, as
// its Triton backend would run them (profile --measure --backend ort).
//
// It never plans and never serves: the plan decides what runs where, the
// files say it in ONNX.
package export
