// Package oip is the Open Inference Protocol (KServe v2) over HTTP/REST:
// the inference request and response JSON objects, the binary tensor data
// extension (a JSON header of Inference-Header-Content-Length bytes
// followed by the tensors' raw bytes), the error object, and the model
// metadata object.
//
// Decoding is strict, because the bytes come from the network: unknown
// fields, a shape whose element count disagrees with the data, a binary
// section of another length, duplicate names and unknown datatypes are
// errors that name the offending field (e.g. "inputs[1].shape"). Every
// tensor is decoded to one representation, its little-endian row-major
// bytes (Tensor.Raw), whether it came as JSON numbers or binary data.
//
// It knows nothing about models, engines or plans: package splitrun maps
// tensors to graph nodes. It must never allocate more than a small
// multiple of the body it is given.
package oip
