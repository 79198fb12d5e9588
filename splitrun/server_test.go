package splitrun_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mtlsplit/mtlsplit/codec"
	"github.com/mtlsplit/mtlsplit/engine"
	"github.com/mtlsplit/mtlsplit/model"
	"github.com/mtlsplit/mtlsplit/oip"
	"github.com/mtlsplit/mtlsplit/plan"
	"github.com/mtlsplit/mtlsplit/splitrun"
)

// zooModel is the model of solvedPlan (mobilenet_v3_small at 64 px, two
// tasks).
func zooModel(t *testing.T) *splitrun.Model {
	t.Helper()
	pl, _ := solvedPlan(t)
	m, err := splitrun.Open(pl, "")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// startServer serves srv on a loopback port until the test ends and
// returns its base URL.
func startServer(t *testing.T, srv *splitrun.Server) string {
	t.Helper()
	return "http://" + serve(t, srv)
}

// inputRequest is a request sending the model's input image (fp32, binary)
// and asking for every task.
func inputRequest(t *testing.T, m *splitrun.Model, id string) ([]byte, int) {
	t.Helper()
	x := make([]float32, m.Graph.Input.Elems())
	for i := range x {
		x[i] = float32(i%17) / 17
	}
	shape := []int64{1}
	for _, d := range m.Graph.Input {
		shape = append(shape, int64(d))
	}
	in := oip.FP32Tensor(m.TensorName(0), shape, x)
	in.Parameters = oip.Parameters{"encoding": "fp32"}
	body, n, err := oip.EncodeRequest(&oip.Request{ID: id, Inputs: []oip.Tensor{in}}, true)
	if err != nil {
		t.Fatal(err)
	}
	return body, n
}

// post sends a body to path with the binary header length (n ≥ 0) and
// extra headers, and returns the status and body.
func post(t *testing.T, c *http.Client, url string, body []byte, n int, hdr map[string]string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if n >= 0 {
		req.Header.Set(oip.HeaderContentLength, strconv.Itoa(n))
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, out
}

// TestOneServerEveryCut: one server process answers edges running
// different switch-table rows (different cuts and encodings) one after
// another and interleaved, without a restart; fp32 rows give the local
// run's logits bit for bit, the others within their quantization.
func TestOneServerEveryCut(t *testing.T) {
	m := zooModel(t)
	const seed = 11
	srv := &splitrun.Server{Model: m, Seed: seed, Workers: 2}
	url := startServer(t, srv)
	in := make([]float32, m.Graph.Input.Elems())
	for i := range in {
		in[i] = float32(i*7%256) / 256
	}
	var rows []int
	for i, row := range m.Plan.SwitchTable {
		if row.Feasible {
			rows = append(rows, i)
		}
	}
	if len(rows) < 2 {
		t.Fatalf("the switch table has %d feasible rows; the test wants a switch", len(rows))
	}
	cuts := map[string]bool{}
	for round := range 2 {
		for _, i := range rows {
			d, err := m.PrepareRow(i)
			if err != nil {
				t.Fatal(err)
			}
			if !d.Sends() {
				continue
			}
			row := m.Plan.SwitchTable[i]
			cuts[row.Cut+"/"+row.Encoding] = true
			prog := compiled(t, d, seed)
			_, whole, err := prog.RunAll(in)
			if err != nil {
				t.Fatal(err)
			}
			got, err := dial(t, d, compiled(t, d, seed), url, seed).Infer(in)
			if err != nil {
				t.Fatalf("round %d row %d: %v", round, i, err)
			}
			lossless := true
			for _, c := range row.CutTensors {
				lossless = lossless && c.Encoding == "fp32"
			}
			for task := range whole {
				worst := float32(0)
				for j := range whole[task] {
					worst = max(worst, abs32(got.Logits[task][j]-whole[task][j]))
				}
				if (lossless && worst != 0) || worst > 0.5 {
					t.Errorf("row %d (%s, %s) task %d: max abs difference %g", i, row.Cut, row.Encoding, task, worst)
				}
			}
		}
	}
	if len(cuts) < 2 {
		t.Errorf("only %d distinct cuts sent: %v", len(cuts), cuts)
	}
}

func abs32(x float32) float32 {
	if x < 0 {
		return -x
	}
	return x
}

// TestStatuses: every refusal has its status and names what was wrong;
// the server still answers a good request afterwards.
func TestStatuses(t *testing.T) {
	m := zooModel(t)
	srv := &splitrun.Server{Model: m, Seed: 1, Workers: 1, Token: "s3cret"}
	base := startServer(t, srv)
	infer := base + "/v2/models/" + m.Plan.Model.Name + "/infer"
	auth := map[string]string{"Authorization": "Bearer s3cret"}
	good, n := inputRequest(t, m, "1")
	in0 := `{"name":"input","datatype":"FP32","shape":[1,3,64,64],"parameters":{"binary_data_size":49152}}`
	tests := []struct {
		name   string
		url    string
		body   []byte
		n      int
		hdr    map[string]string
		status int
		want   string
	}{
		{"ok", infer, good, n, auth, 200, `"id":"1"`},
		{"no token", infer, good, n, nil, 401, "needs a bearer token"},
		{"wrong token", infer, good, n, map[string]string{"Authorization": "Bearer nope"}, 403, "not this server's"},
		{"unknown model", base + "/v2/models/resnet50/infer", good, n, auth, 404, `no model \"resnet50\"`},
		{"unknown tensor", infer, []byte(`{"inputs":[{"name":"features.99","datatype":"FP32","shape":[1],"data":[0]}]}`), -1, auth, 404, `inputs[0].name: mobilenet_v3_small has no tensor \"features.99\"`},
		{"fused tensor", infer, []byte(`{"inputs":[{"name":"features.0.1","datatype":"FP32","shape":[1],"data":[0]}]}`), -1, auth, 404, "fused into the next layer"},
		{"unknown task", infer, append([]byte(`{"inputs":[`+in0+`],"outputs":[{"name":"task9"}]}`), make([]byte, 49152)...), 0, auth, 404, `outputs[0].name: mobilenet_v3_small has no task \"task9\"`},
		{"malformed", infer, []byte(`{"inputs":[`), -1, auth, 400, "unexpected EOF"},
		{"wrong shape", infer, append([]byte(`{"inputs":[{"name":"input","datatype":"FP32","shape":[1,3,32,128],"parameters":{"binary_data_size":49152}}]}`), make([]byte, 49152)...), 0, auth, 400, "inputs[0].shape: [1 3 32 128]; this tensor is [1 3 64 64]"},
		{"bad encoding", infer, append([]byte(`{"inputs":[{"name":"input","datatype":"FP32","shape":[1,3,64,64],"parameters":{"binary_data_size":49152,"encoding":"fp8"}}]}`), make([]byte, 49152)...), 0, auth, 400, `inputs[0].parameters.encoding: \"fp8\" is not one of`},
		{"not needed", infer, append([]byte(`{"inputs":[`+in0+`,{"name":"`+m.TensorName(m.Graph.Blocks[2].Output)+`","datatype":"BYTES","shape":[1],"data":["x"],"parameters":{"encoding":"int8"}}]}`), make([]byte, 49152)...), 0, auth, 400, `inputs[0].name: \"input\" is not needed`},
		{"other weights", infer, []byte(`{"parameters":{"model_id":"x:y:1"},"inputs":[]}`), -1, auth, 400, "parameters.model_id: the request is for x:y:1, this server runs "},
		{"image without preprocessing", infer, append([]byte(`{"inputs":[{"name":"input","datatype":"UINT8","shape":[1,3,64,64],"parameters":{"binary_data_size":12288}}]}`), make([]byte, 12288)...), 0, auth, 400, "inputs[0]: a UINT8 image: the plan records no image preprocessing"},
		{"too large", infer, make([]byte, 8<<20), -1, auth, 413, "request body of 8388608 bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.n == 0 {
				tc.n = bytes.IndexByte(tc.body, 0)
			}
			status, _, body := post(t, nil, tc.url, tc.body, tc.n, tc.hdr)
			if status != tc.status || !strings.Contains(string(body), tc.want) {
				t.Errorf("status %d %s; want %d with %q", status, body, tc.status, tc.want)
			}
			if status != 200 && !strings.HasPrefix(string(body), `{"error":`) {
				t.Errorf("not the protocol's error object: %s", body)
			}
		})
	}
	// GET endpoints.
	for _, tc := range []struct {
		path   string
		hdr    bool
		status int
	}{
		{"/v2/health/live", false, 200}, {"/v2/health/ready", false, 200},
		{"/v2/models/" + m.Plan.Model.Name, true, 200}, {"/v2/models/" + m.Plan.Model.Name + "/ready", true, 200},
		{"/v2/models/x/ready", true, 404}, {"/v2/models/" + m.Plan.Model.Name, false, 401}, {"/metrics", true, 200}, {"/v1/models", true, 404},
	} {
		req, _ := http.NewRequest(http.MethodGet, base+tc.path, nil)
		if tc.hdr {
			req.Header.Set("Authorization", "Bearer s3cret")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("GET %s: %d, want %d", tc.path, resp.StatusCode, tc.status)
		}
	}
}

// TestQueueFull: with every slot held (bodies still arriving), the next
// request gets 503 with Retry-After at once; once the slots free up it
// is answered.
func TestQueueFull(t *testing.T) {
	m := zooModel(t)
	srv := &splitrun.Server{Model: m, Seed: 1, Workers: 1, Queue: 1}
	base := startServer(t, srv)
	infer := base + "/v2/models/" + m.Plan.Model.Name + "/infer"
	body, n := inputRequest(t, m, "slow")
	// Two clients send their headers and half their body, then stall.
	var conns []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		fmt.Fprintf(c, "POST /v2/models/%s/infer HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n%s: %d\r\n\r\n", m.Plan.Model.Name, len(body), oip.HeaderContentLength, n)
		c.Write(body[:len(body)/2])
	}
	waitMetric(t, base, "mtlsplit_admitted 2")
	status, hdr, out := post(t, nil, infer, body, n, nil)
	if status != 503 || hdr.Get("Retry-After") == "" || !strings.Contains(string(out), "busy") {
		t.Errorf("with the queue full: %d %q %s", status, hdr.Get("Retry-After"), out)
	}
	for _, c := range conns {
		c.Write(body[len(body)/2:])
		r := bufio.NewReader(c)
		resp, err := http.ReadResponse(r, nil)
		if err != nil || resp.StatusCode != 200 {
			t.Errorf("stalled client: %v %v", resp, err)
		}
		c.Close()
	}
	if status, _, out := post(t, nil, infer, body, n, nil); status != 200 {
		t.Errorf("after the queue drained: %d %s", status, out)
	}
}

// waitMetric polls /metrics until it has line (the server's own account
// of its state, not a timing).
func waitMetric(t *testing.T, base, line string) {
	t.Helper()
	for range 500 {
		resp, err := http.Get(base + "/metrics")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if strings.Contains(string(b), line+"\n") {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("/metrics never showed %q", line)
}

// TestTokenNoWork: requests without the token, or with another, are
// refused before the engine runs; with it they run.
func TestTokenNoWork(t *testing.T) {
	m := zooModel(t)
	srv := &splitrun.Server{Model: m, Seed: 1, Workers: 1, Token: "tok-123"}
	infer := startServer(t, srv) + "/v2/models/" + m.Plan.Model.Name + "/infer"
	body, n := inputRequest(t, m, "a")
	for _, h := range []map[string]string{nil, {"Authorization": "Bearer tok-12"}, {"Authorization": "tok-123"}, {"Authorization": "Bearer tok-1234"}} {
		if status, _, _ := post(t, nil, infer, body, n, h); status != 401 && status != 403 {
			t.Errorf("%v: status %d", h, status)
		}
	}
	if r := srv.Runs(); r != 0 {
		t.Fatalf("the engine ran %d times without the token", r)
	}
	if status, _, out := post(t, nil, infer, body, n, map[string]string{"Authorization": "Bearer tok-123"}); status != 200 {
		t.Fatalf("with the token: %d %s", status, out)
	}
	if r := srv.Runs(); r != 1 {
		t.Errorf("the engine ran %d times for one request", r)
	}
	req, _ := http.NewRequest(http.MethodGet, strings.TrimSuffix(infer, "/v2/models/"+m.Plan.Model.Name+"/infer")+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer tok-123")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	text, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`mtlsplit_requests_total{code="200"} 1`, `mtlsplit_requests_total{code="401"} 2`, `mtlsplit_requests_total{code="403"} 2`,
		`mtlsplit_engine_runs_total 1`, `mtlsplit_stage_seconds_count{stage="server"} 1`, `mtlsplit_stage_seconds_bucket{stage="queue",le="+Inf"} 1`,
		"# TYPE mtlsplit_stage_seconds histogram", "mtlsplit_queue_depth 0"} {
		if !strings.Contains(string(text), want+"\n") {
			t.Errorf("/metrics lacks %q:\n%s", want, text)
		}
	}
}

// selfSigned makes a certificate for 127.0.0.1 that is its own CA.
func selfSigned(t *testing.T, name string, usage x509.ExtKeyUsage) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{usage},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}, pool
}

// TestTLS: an edge that trusts the server's self-signed certificate runs
// over HTTPS (with a client certificate, mutual TLS); a plain-HTTP client
// and a client without a certificate are refused.
func TestTLS(t *testing.T) {
	d := planFor(t, "features.4", "fp32", map[string]string{"task1": "server", "task2": "server"})
	const seed = 5
	serverCert, roots := selfSigned(t, "server", x509.ExtKeyUsageServerAuth)
	clientCert, clientCAs := selfSigned(t, "edge", x509.ExtKeyUsageClientAuth)
	srv := &splitrun.Server{Model: d.Model(), Seed: seed, Workers: 1, TLS: &tls.Config{
		Certificates: []tls.Certificate{serverCert}, ClientCAs: clientCAs, ClientAuth: tls.RequireAndVerifyClientCert}}
	addr := serve(t, srv)
	in := make([]float32, 3*64*64)
	_, want, _ := compiled(t, d, seed).RunAll(in)
	e := &splitrun.Edge{D: d, Prog: compiled(t, d, seed), TLS: &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{clientCert}}}
	if err := e.Dial("https://"+addr, seed); err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	got, err := e.Infer(in)
	if err != nil {
		t.Fatal(err)
	}
	sameLogits(t, got.Logits, want)
	noCert := &splitrun.Edge{D: d, Prog: compiled(t, d, seed), TLS: &tls.Config{RootCAs: roots}}
	if err := noCert.Dial("https://"+addr, seed); err == nil {
		t.Error("an edge without a client certificate was served")
	}
	plain := &splitrun.Edge{D: d, Prog: compiled(t, d, seed)}
	if err := plain.Dial("http://"+addr, seed); err == nil {
		t.Error("a plain-HTTP edge was served by the TLS server")
	}
}

// TestShutdownFinishesInFlight: a request whose body is still arriving
// when Shutdown starts is answered; afterwards the server refuses
// connections.
func TestShutdownFinishesInFlight(t *testing.T) {
	m := zooModel(t)
	srv := &splitrun.Server{Model: m, Seed: 1, Workers: 1}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	base := "http://" + ln.Addr().String()
	body, n := inputRequest(t, m, "last")
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /v2/models/%s/infer HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n%s: %d\r\n\r\n", m.Plan.Model.Name, len(body), oip.HeaderContentLength, n)
	c.Write(body[:100])
	waitMetric(t, base, "mtlsplit_admitted 1")
	done := make(chan error)
	go func() { done <- srv.Shutdown(context.Background()) }()
	c.Write(body[100:])
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("in-flight request: %v %v", resp, err)
	}
	out, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(out), `"id":"last"`) {
		t.Errorf("reply %s", out)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(base + "/v2/health/live"); err == nil {
		t.Error("the server still answers after Shutdown")
	}
}

// heapMB is the heap in use after a collection.
func heapMB() float64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return float64(ms.HeapInuse) / (1 << 20)
}

// TestHostileClients: 1 GiB length claims, huge headers, 200 idle
// connections and garbage after a valid request neither grow the heap
// (server and these clients together) by more than 48 MiB nor stop a
// legitimate request from being answered.
func TestHostileClients(t *testing.T) {
	m := zooModel(t)
	srv := &splitrun.Server{Model: m, Seed: 1, Workers: 1}
	base := startServer(t, srv)
	host := strings.TrimPrefix(base, "http://")
	body, n := inputRequest(t, m, "legit")
	infer := base + "/v2/models/" + m.Plan.Model.Name + "/infer"
	if status, _, out := post(t, nil, infer, body, n, nil); status != 200 {
		t.Fatalf("warm-up: %d %s", status, out)
	}
	before := heapMB()
	raw := func(req string) string {
		c, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(20 * time.Second))
		io.WriteString(c, req)
		b, _ := io.ReadAll(io.LimitReader(c, 1<<16))
		return string(b)
	}
	var idle []net.Conn
	for range 200 {
		c, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		idle = append(idle, c)
	}
	defer func() {
		for _, c := range idle {
			c.Close()
		}
	}()
	// 1 GiB claimed, nothing sent: refused from the headers alone.
	claim := raw(fmt.Sprintf("POST /v2/models/%s/infer HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", m.Plan.Model.Name, 1<<30))
	if !strings.HasPrefix(claim, "HTTP/1.1 413") {
		t.Errorf("1 GiB claim: %.60q", claim)
	}
	// 1 MiB of headers.
	huge := raw("GET /v2/health/live HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 1<<20) + "\r\n\r\n")
	if !strings.HasPrefix(huge, "HTTP/1.1 431") {
		t.Errorf("huge header: %.60q", huge)
	}
	// A valid request, then garbage on the same connection: the request
	// is answered, the garbage gets 400 and the connection closes.
	valid := fmt.Sprintf("POST /v2/models/%s/infer HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n%s: %d\r\n\r\n", m.Plan.Model.Name, len(body), oip.HeaderContentLength, n)
	mixed := raw(valid + string(body) + "\x00\xffGARBAGE\r\n\r\n")
	if !strings.HasPrefix(mixed, "HTTP/1.1 200") || !strings.Contains(mixed, `"id":"legit"`) || !strings.Contains(mixed, "HTTP/1.1 400") {
		t.Errorf("valid request then garbage: %.200q", mixed)
	}
	// A legitimate request still completes with all of that going on.
	if status, _, out := post(t, &http.Client{Timeout: 30 * time.Second}, infer, body, n, nil); status != 200 {
		t.Fatalf("legitimate request: %d %s", status, out)
	}
	grown := heapMB() - before
	if grown > 48 {
		t.Errorf("heap grew %.1f MiB (bound 48)", grown)
	}
	t.Logf("hostile clients: heap +%.1f MiB (bound 48)", grown)
}

// TestInputAsJSON: the same tensor sent as JSON numbers gives the same
// logits as sent in binary, bit for bit (floats are written in their
// shortest exact form both ways).
func TestInputAsJSON(t *testing.T) {
	m := zooModel(t)
	infer := startServer(t, &splitrun.Server{Model: m, Seed: 1, Workers: 1}) + "/v2/models/" + m.Plan.Model.Name + "/infer"
	body, n := inputRequest(t, m, "b")
	req, err := oip.DecodeRequest(body, n)
	if err != nil {
		t.Fatal(err)
	}
	jsonBody, _, err := oip.EncodeRequest(req, false)
	if err != nil {
		t.Fatal(err)
	}
	var outs [][]byte
	for _, c := range []struct {
		body []byte
		n    int
	}{{body, n}, {jsonBody, -1}} {
		status, hdr, out := post(t, nil, infer, c.body, c.n, nil)
		if status != 200 {
			t.Fatalf("%d %s", status, out)
		}
		hl, _ := oip.HeaderLength(hdr.Get(oip.HeaderContentLength), len(out))
		r, err := oip.DecodeResponse(out, hl)
		if err != nil {
			t.Fatal(err)
		}
		var all []byte
		for _, o := range r.Outputs {
			all = append(all, o.Raw...)
		}
		outs = append(outs, all)
	}
	if !bytes.Equal(outs[0], outs[1]) {
		t.Error("JSON and binary inputs gave different logits")
	}
}

// TestLoad runs concurrent edges against one server for a few seconds
// (LOAD_SECONDS, default 1; make load sets 30): no request is lost or
// answered twice (each reply carries its request's ID, checked by the
// client), and with 4× more clients than the server admits the excess
// gets 503 and everyone else an answer.
func TestLoad(t *testing.T) {
	seconds := 1.0
	if s, err := strconv.ParseFloat(getenv("LOAD_SECONDS"), 64); err == nil && s > 0 {
		seconds = s
	}
	d := planFor(t, "features.4", "int8", map[string]string{"task1": "server", "task2": "server"})
	const seed = 5
	const edges = 8
	srv := &splitrun.Server{Model: d.Model(), Seed: seed, Queue: edges}
	url := startServer(t, srv)
	in := make([]float32, 3*64*64)
	before := heapMB()
	var mu sync.Mutex
	var lat []float64
	counts := make([]int, edges)
	deadline := time.Now().Add(time.Duration(seconds * float64(time.Second)))
	var wg sync.WaitGroup
	for k := range edges {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e := &splitrun.Edge{D: d, Prog: compiledNoCleanup(t, d, seed)}
			if err := e.Dial(url, seed); err != nil {
				t.Error(err)
				return
			}
			defer e.Close()
			for time.Now().Before(deadline) {
				tm, err := e.Infer(in)
				if err != nil {
					t.Errorf("edge %d request %d: %v", k, counts[k]+1, err)
					return
				}
				mu.Lock()
				lat = append(lat, tm.TotalMS)
				mu.Unlock()
				counts[k]++
			}
		}()
	}
	wg.Wait()
	total := 0
	for _, c := range counts {
		total += c
	}
	metrics := scrape(t, url)
	if want := fmt.Sprintf("mtlsplit_requests_total{code=\"200\"} %d", total); !strings.Contains(metrics, want+"\n") {
		t.Errorf("the edges got %d answers; the server's metrics do not say %q", total, want)
	}
	p50, p99 := percentile(lat, 0.5), percentile(lat, 0.99)
	t.Logf("load: %d edges × %.0f s: %d requests, %.1f req/s, p50 %.1f ms, p99 %.1f ms, heap +%.1f MiB",
		edges, seconds, total, float64(total)/seconds, p50, p99, heapMB()-before)

	// Overload: 4× more clients than the server admits.
	small := &splitrun.Server{Model: d.Model(), Seed: seed, Workers: 1, Queue: 1}
	surl := startServer(t, small)
	m := d.Model()
	body, n := inputRequest(t, m, "x")
	clients := 4 * 2
	var ok, busy, other int
	var lat503 []float64
	wg = sync.WaitGroup{}
	stop := time.Now().Add(time.Duration(seconds * float64(time.Second)))
	before = heapMB()
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &http.Client{Timeout: 30 * time.Second}
			for time.Now().Before(stop) {
				start := time.Now()
				status, _, _ := post(t, c, surl+"/v2/models/"+m.Plan.Model.Name+"/infer", body, n, nil)
				ms := float64(time.Since(start).Nanoseconds()) / 1e6
				mu.Lock()
				switch status {
				case 200:
					ok++
				case 503:
					busy++
					lat503 = append(lat503, ms)
				default:
					other++
				}
				mu.Unlock()
				if status == 503 {
					time.Sleep(5 * time.Millisecond)
				}
			}
		}()
	}
	wg.Wait()
	if ok == 0 || busy == 0 || other != 0 {
		t.Errorf("overload: %d answered, %d refused with 503, %d other", ok, busy, other)
	}
	t.Logf("overload: %d clients, 2 admitted: %d answered, %d got 503 (p50 %.1f ms, p99 %.1f ms), heap +%.1f MiB",
		clients, ok, busy, percentile(lat503, 0.5), percentile(lat503, 0.99), heapMB()-before)
}

func scrape(t *testing.T, base string) string {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestRemoteOnlySendsImageBytes: with the plan's image preprocessing
// recorded, remote-only sends the camera's bytes (one byte a value, as the
// plan counts) and the server's normalization gives the logits of the
// locally normalized input bit for bit; a plan without it refuses raw
// bytes naming what is missing.
func TestRemoteOnlySendsImageBytes(t *testing.T) {
	pl, g := solvedPlan(t)
	pl.Model.Source = &plan.Source{Kind: plan.SourceZoo,
		Preprocess: "image → RGB [0,1] → no resize → mean 0.485,0.456,0.406 std 0.229,0.224,0.225 → NCHW float32 3×64×64"}
	blockCut(g, pl, "input", "uint8", map[string]string{"task1": "server", "task2": "server"})
	d, err := splitrun.Prepare(pl)
	if err != nil {
		t.Fatal(err)
	}
	const seed = 5
	img := make([]byte, 3*64*64)
	for i := range img {
		img[i] = byte(i * 31)
	}
	// The input as package dataset normalizes it.
	mean, std := []float32{0.485, 0.456, 0.406}, []float32{0.229, 0.224, 0.225}
	in := make([]float32, len(img))
	for i, b := range img {
		c := i / (64 * 64)
		in[i] = (float32(b)/255 - mean[c]) / std[c]
	}
	_, want, _ := compiled(t, d, seed).RunAll(in)
	addr := serve(t, &splitrun.Server{Model: d.Model(), Seed: seed, Workers: 1})
	e := dial(t, d, compiled(t, d, seed), addr, seed)
	got, err := e.InferImage(img)
	if err != nil {
		t.Fatal(err)
	}
	sameLogits(t, got.Logits, want)
	if got.Bytes != len(img) || int64(got.Bytes) != codec.Raw.Bytes(int64(len(img))) {
		t.Errorf("sent %d bytes for a %d-byte image", got.Bytes, len(img))
	}
	// Infer with the normalized input (what run --data reads) recovers the
	// same bytes and sends them; an input that is no 8-bit image goes as
	// int8 codes with their 8-byte header.
	got, err = e.Infer(in)
	if err != nil {
		t.Fatal(err)
	}
	sameLogits(t, got.Logits, want)
	if got.Bytes != len(img) {
		t.Errorf("Infer of a normalized image sent %d bytes, want the image's %d", got.Bytes, len(img))
	}
	in[7] += 1e-3
	if got, err = e.Infer(in); err != nil || got.Bytes != len(img)+8 {
		t.Errorf("Infer of a non-image input: %d bytes, err %v; want %d (int8 codes)", got.Bytes, err, len(img)+8)
	}
	// Without the recorded preprocessing the edge cannot normalize and the
	// server refuses the bytes.
	pl.Model.Source = nil
	d2, err := splitrun.Prepare(pl)
	if err != nil {
		t.Fatal(err)
	}
	e2 := dial(t, d2, compiled(t, d2, seed), serve(t, &splitrun.Server{Model: d2.Model(), Seed: seed, Workers: 1}), seed)
	if _, err := e2.InferImage(img); err == nil || !strings.Contains(err.Error(), "model.source.preprocess") {
		t.Errorf("without preprocessing: %v", err)
	}
}

// TestZooModelWithWeightsFile: a zoo plan served with a safetensors file
// runs the file's weights (logits differ from the seeded ones and match a
// local run bit for bit); an edge with seeded weights is refused naming
// both identities, and a file for another input size is refused.
func TestZooModelWithWeightsFile(t *testing.T) {
	pl, g := solvedPlan(t)
	blockCut(g, pl, "features.4", "fp32", map[string]string{"task1": "server", "task2": "server"})
	w, err := engine.RandomWeights(g, 42)
	if err != nil {
		t.Fatal(err)
	}
	b, err := engine.EncodeSafetensors(w, nil)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "trained.safetensors")
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	open := func(weights string) *splitrun.Deployment {
		m, err := splitrun.Open(pl, "")
		if err != nil {
			t.Fatal(err)
		}
		if weights != "" {
			if err := m.LoadWeights(weights); err != nil {
				t.Fatal(err)
			}
		}
		d, err := m.Prepare()
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	const seed = 3
	d, seeded := open(file), open("")
	in := make([]float32, 3*64*64)
	for i := range in {
		in[i] = float32(i%29) / 29
	}
	_, want, _ := compiled(t, d, seed).RunAll(in)
	_, other, _ := compiled(t, seeded, seed).RunAll(in)
	if want[0][0] == other[0][0] {
		t.Fatal("the weights file changed nothing")
	}
	addr := serve(t, &splitrun.Server{Model: d.Model(), Seed: seed, Workers: 1})
	got, err := dial(t, d, compiled(t, d, seed), addr, seed).Infer(in)
	if err != nil {
		t.Fatal(err)
	}
	sameLogits(t, got.Logits, want)
	e := &splitrun.Edge{D: seeded, Prog: compiled(t, seeded, seed)}
	if err := e.Dial(addr, seed); err == nil || !strings.Contains(err.Error(), `SHA-256 ""`) {
		t.Errorf("an edge with seeded weights: %v", err)
	}
	g32, _ := model.New("mobilenet_v3_small", 32, []int{8, 4})
	w32, _ := engine.RandomWeights(g32, 1)
	b32, _ := engine.EncodeSafetensors(w32, nil)
	os.WriteFile(file, b32, 0o644)
	m, _ := splitrun.Open(pl, "")
	if err := m.LoadWeights(file); err == nil || !strings.Contains(err.Error(), "for mobilenet_v3_small at 64 px") {
		t.Errorf("a file for 32 px: %v", err)
	}
}

// TestDeadline: a request whose deadline has passed by the time a worker
// would take it is answered 503 with Retry-After, and the engine does not
// run it.
func TestDeadline(t *testing.T) {
	m := zooModel(t)
	srv := &splitrun.Server{Model: m, Seed: 1, Workers: 1, Timeout: time.Nanosecond}
	infer := startServer(t, srv) + "/v2/models/" + m.Plan.Model.Name + "/infer"
	body, n := inputRequest(t, m, "late")
	status, hdr, out := post(t, nil, infer, body, n, nil)
	if status != 503 || hdr.Get("Retry-After") == "" || !strings.Contains(string(out), "deadline") {
		t.Errorf("%d %q %s", status, hdr.Get("Retry-After"), out)
	}
	if r := srv.Runs(); r != 0 {
		t.Errorf("the engine ran %d late requests", r)
	}
}

// TestWarmWhileReceiving: an idle worker warms its program while a body
// arrives (the body is held half sent until it has), the reply says for
// how long (warm_ms), and with no body arriving it stops warming; a
// NoWarm server never warms.
func TestWarmWhileReceiving(t *testing.T) {
	m := zooModel(t)
	body, n := inputRequest(t, m, "warm")
	for _, noWarm := range []bool{false, true} {
		t.Run(fmt.Sprintf("NoWarm=%v", noWarm), func(t *testing.T) {
			srv := &splitrun.Server{Model: m, Seed: 1, Workers: 1, NoWarm: noWarm}
			infer := startServer(t, srv) + "/v2/models/" + m.Plan.Model.Name + "/infer"
			pr, pw := io.Pipe()
			go func() {
				pw.Write(body[:len(body)/2])
				// Hold the rest until the worker has warmed (NoWarm: until
				// the server has surely seen the first half).
				for i := 0; i < 500 && srv.Warms() == 0; i++ {
					time.Sleep(10 * time.Millisecond)
					if noWarm && i == 20 {
						break
					}
				}
				pw.Write(body[len(body)/2:])
				pw.Close()
			}()
			req, _ := http.NewRequest(http.MethodPost, infer, pr)
			req.ContentLength = int64(len(body))
			req.Header.Set(oip.HeaderContentLength, strconv.Itoa(n))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			out, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("%d %s", resp.StatusCode, out)
			}
			hl, _ := oip.HeaderLength(resp.Header.Get(oip.HeaderContentLength), len(out))
			r, err := oip.DecodeResponse(out, hl)
			if err != nil {
				t.Fatal(err)
			}
			warmMS, ok, _ := r.Parameters.Float64("warm_ms")
			warms := srv.Warms()
			switch {
			case !ok:
				t.Error("the reply has no warm_ms")
			case noWarm && (warms != 0 || warmMS != 0):
				t.Errorf("NoWarm server warmed %d times, warm_ms %v", warms, warmMS)
			case !noWarm && (warms == 0 || warmMS <= 0):
				t.Errorf("warmed %d times, warm_ms %v; want a warm while the body arrived", warms, warmMS)
			}
			// No body arriving now: past a few warm periods, no more passes.
			time.Sleep(100 * time.Millisecond)
			if w := srv.Warms(); w != warms {
				t.Errorf("%d warm passes after the body arrived; want none", w-warms)
			}
		})
	}
}
