package engine

import (
	"sync"

	"github.com/klauspost/compress/zstd"
)

// zstdEncoder is shared: EncodeAll is safe for concurrent use.
var zstdEncoder = sync.OnceValues(func() (*zstd.Encoder, error) {
	return zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
})

var zstdDecoder = sync.OnceValues(func() (*zstd.Decoder, error) {
	return zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
})

// Compress appends the zstd (fastest level) compression of an encoded
// tensor to dst: the optional lossless stage after any encoding. Its ratio
// depends on the data (ReLU zeros compress well), so it is measured, never
// assumed.
func Compress(dst, src []byte) ([]byte, error) {
	enc, err := zstdEncoder()
	if err != nil {
		return nil, err
	}
	return enc.EncodeAll(src, dst), nil
}

// Decompress appends the original of a Compress output to dst.
func Decompress(dst, src []byte) ([]byte, error) {
	dec, err := zstdDecoder()
	if err != nil {
		return nil, err
	}
	return dec.DecodeAll(src, dst)
}
