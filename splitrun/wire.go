package splitrun

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/mtlsplit/mtlsplit/codec"
	"github.com/mtlsplit/mtlsplit/engine"
)

// The wire protocol, little-endian. The edge opens with one JSON line
// (hello) and the server answers "ok" or an error line. Then, per
// inference, the edge sends a frame [u32 length][encoded cut tensor] and the
// server answers [f64 server ms][u32 results] then per result
// [u32 task][u32 n][n float32 logits].

// hello names what the sender runs: the graph, the weights' seed, the
// tensors it sends (node:encoding, in wire order) and the tier they go to.
type hello struct {
	Hash string `json:"hash"`
	// File is the SHA-256 of the ONNX file the weights come from ("": a
	// zoo model's).
	File    string `json:"file,omitempty"`
	Seed    uint64 `json:"seed"`
	Tensors string `json:"tensors"`
	Tier    int    `json:"tier"`
}

// maxFrame bounds what a peer may ask us to read (1 GiB).
const maxFrame = 1 << 30

func writeHello(w io.Writer, h hello) error {
	b, err := json.Marshal(h)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

func readLine(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("read handshake: %w", err)
	}
	return line[:len(line)-1], nil
}

func writeFrame(w io.Writer, payload []byte) error {
	var n [4]byte
	binary.LittleEndian.PutUint32(n[:], uint32(len(payload)))
	if _, err := w.Write(n[:]); err != nil {
		return err
	}
	_, err := w.Write(payload)
	return err
}

func readFrame(r io.Reader, buf []byte) ([]byte, error) {
	var n [4]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return nil, err
	}
	size := binary.LittleEndian.Uint32(n[:])
	if size > maxFrame {
		return nil, fmt.Errorf("frame of %d bytes is larger than %d", size, maxFrame)
	}
	if cap(buf) < int(size) {
		buf = make([]byte, size)
	}
	buf = buf[:size]
	_, err := io.ReadFull(r, buf)
	return buf, err
}

// reply is what the server sends back for one inference.
type reply struct {
	ServerMS float64
	Results  map[int][]float32
	Bytes    int // on the wire
}

func writeReply(w io.Writer, serverMS float64, results map[int][]float32) error {
	bw := bufio.NewWriter(w)
	binary.Write(bw, binary.LittleEndian, math.Float64bits(serverMS))
	binary.Write(bw, binary.LittleEndian, uint32(len(results)))
	for t, v := range results {
		binary.Write(bw, binary.LittleEndian, uint32(t))
		binary.Write(bw, binary.LittleEndian, uint32(len(v)))
		binary.Write(bw, binary.LittleEndian, v)
	}
	return bw.Flush()
}

func readReply(r io.Reader, tasks int) (reply, error) {
	var out reply
	var bits uint64
	var n uint32
	if err := binary.Read(r, binary.LittleEndian, &bits); err != nil {
		return out, err
	}
	if err := binary.Read(r, binary.LittleEndian, &n); err != nil {
		return out, err
	}
	if int(n) > tasks {
		return out, fmt.Errorf("server sent %d results for %d tasks", n, tasks)
	}
	out.ServerMS, out.Results, out.Bytes = math.Float64frombits(bits), map[int][]float32{}, 12
	for range n {
		var t, k uint32
		if err := binary.Read(r, binary.LittleEndian, &t); err != nil {
			return out, err
		}
		if err := binary.Read(r, binary.LittleEndian, &k); err != nil {
			return out, err
		}
		if int(t) >= tasks || k > 1<<20 {
			return out, errors.New("malformed result")
		}
		v := make([]float32, k)
		if err := binary.Read(r, binary.LittleEndian, v); err != nil {
			return out, err
		}
		out.Results[int(t)] = v
		out.Bytes += 8 + 4*int(k)
	}
	return out, nil
}

// packTensors puts several encoded tensors in one frame: [u32 n] then
// [u32 length][bytes] each.
func packTensors(dst []byte, parts [][]byte) []byte {
	dst = binary.LittleEndian.AppendUint32(dst[:0], uint32(len(parts)))
	for _, p := range parts {
		dst = binary.LittleEndian.AppendUint32(dst, uint32(len(p)))
		dst = append(dst, p...)
	}
	return dst
}

func unpackTensors(frame []byte, n int) ([][]byte, error) {
	if len(frame) < 4 || int(binary.LittleEndian.Uint32(frame)) != n {
		return nil, fmt.Errorf("frame does not hold %d tensors", n)
	}
	frame = frame[4:]
	parts := make([][]byte, n)
	for i := range parts {
		if len(frame) < 4 {
			return nil, errors.New("truncated frame")
		}
		size := int(binary.LittleEndian.Uint32(frame))
		if len(frame)-4 < size {
			return nil, errors.New("truncated frame")
		}
		parts[i], frame = frame[4:4+size], frame[4+size:]
	}
	return parts, nil
}

// encode puts a tensor on the wire: its encoding, then the lossless stage
// when the encoding has one ("int8+zstd").
func encode(dst []byte, e codec.Encoding, x []float32) ([]byte, error) {
	if !e.Compressed() {
		return engine.Encode(dst, e, x)
	}
	b, err := engine.Encode(nil, e.Base(), x)
	if err != nil {
		return nil, err
	}
	return engine.Compress(dst, b)
}

// decode is encode's inverse.
func decode(x []float32, e codec.Encoding, b []byte) error {
	if e.Compressed() {
		var err error
		if b, err = engine.Decompress(nil, b); err != nil {
			return err
		}
	}
	return engine.Decode(x, e.Base(), b)
}
