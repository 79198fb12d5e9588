package cli

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mtlsplit/mtlsplit/plan"
	"github.com/mtlsplit/mtlsplit/splitrun"
)

// TestServeFlags: serve refuses bad security and listen flags with one
// line naming them.
func TestServeFlags(t *testing.T) {
	dir := t.TempDir()
	pl := filepath.Join(dir, "plan.yaml")
	if _, stderr, code := run(t, "plan", "mobilenet_v3_small", "--input", "64", "--out", pl); code != 0 {
		t.Fatalf("plan: exit %d: %s", code, stderr)
	}
	empty := filepath.Join(dir, "empty.token")
	os.WriteFile(empty, []byte("\n"), 0o600)
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"empty listen", []string{"--listen", ""}, []string{`--listen "": want HOST:PORT`}},
		{"cert without key", []string{"--tls-cert", "c.pem"}, []string{"--tls-cert and --tls-key go together"}},
		{"client CA without TLS", []string{"--client-ca", "ca.pem"}, []string{"--client-ca ca.pem needs --tls-cert and --tls-key"}},
		{"missing cert", []string{"--tls-cert", "none.pem", "--tls-key", "none.key"}, []string{"--tls-cert none.pem --tls-key none.key", "no such file"}},
		{"empty token", []string{"--token-file", empty}, []string{"empty.token: the first line is empty"}},
		{"empty next token", []string{"--next-token-file", empty}, []string{"--next-token-file " + empty + ": the first line is empty"}},
		{"bad workers", []string{"--workers", "-1"}, []string{"--workers -1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			badInput(t, append([]string{"serve", "--plan", pl}, tc.args...), tc.want...)
		})
	}
}

// TestExposureWarning: listening beyond loopback without TLS and a token
// is warned about, naming what is missing.
func TestExposureWarning(t *testing.T) {
	for _, tc := range []struct {
		addr       string
		tls, token bool
		want       string
	}{
		{"127.0.0.1:7070", false, false, ""},
		{"localhost:7070", false, false, ""},
		{"[::1]:7070", false, false, ""},
		{"0.0.0.0:7070", false, false, "without TLS (--tls-cert/--tls-key) or a token (--token-file)"},
		{"10.0.0.5:7070", true, false, "without a token (--token-file)"},
		{"10.0.0.5:7070", false, true, "without TLS (--tls-cert/--tls-key)"},
		{"10.0.0.5:7070", true, true, ""},
	} {
		var errw bytes.Buffer
		warnExposure(&IO{Err: &errw}, tc.addr, tc.tls, tc.token)
		if got := errw.String(); (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%s tls=%v token=%v: %q, want %q", tc.addr, tc.tls, tc.token, got, tc.want)
		}
	}
}

// TestRunAgainstServer: run --server reaches a server that wants a token
// with --token-file, and is refused without it (exit 2, one line, the
// server's reason); --connect still works as the old spelling.
func TestRunAgainstServer(t *testing.T) {
	dir := t.TempDir()
	pl := filepath.Join(dir, "plan.yaml")
	if _, stderr, code := run(t, "plan", "mobilenet_v3_small", "--input", "64", "--device", "rpi4", "--server", "h100",
		"--network", "ethernet", "--encodings", "fp32,int8", "--out", pl); code != 0 {
		t.Fatalf("plan: exit %d: %s", code, stderr)
	}
	p, err := plan.Load(pl)
	if err != nil {
		t.Fatal(err)
	}
	m, err := splitrun.Open(p, "")
	if err != nil {
		t.Fatal(err)
	}
	d, _ := m.Prepare()
	if !d.Sends() {
		t.Skip("the plan is local-only: nothing to send")
	}
	seed := uint64(1)
	if s := p.Model.Source; s != nil && s.Seed != nil {
		seed = *s.Seed
	}
	srv := &splitrun.Server{Model: m, Seed: seed, Workers: 1, Token: "abc"}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Shutdown(context.Background())
	tok := filepath.Join(dir, "token")
	os.WriteFile(tok, []byte("abc\n"), 0o600)
	url := "http://" + ln.Addr().String()
	if stdout, stderr, code := run(t, "run", "--plan", pl, "--server", url, "--token-file", tok, "--n", "2", "-q", "--no-emulate"); code != 0 || !strings.Contains(stdout, url) {
		t.Fatalf("run --server: exit %d: %s%s", code, stderr, stdout)
	}
	if _, stderr, code := run(t, "run", "--plan", pl, "--connect", ln.Addr().String(), "--token-file", tok, "--n", "1", "-q", "--no-emulate"); code != 0 {
		t.Fatalf("run --connect: exit %d: %s", code, stderr)
	}
	badInput(t, []string{"run", "--plan", pl, "--server", url, "--n", "1", "-q", "--no-emulate"}, "401 Unauthorized", "needs a bearer token")
	badInput(t, []string{"run", "--plan", pl, "--server", "ftp://x", "--n", "1"}, `server "ftp://x": want http://HOST:PORT or https://HOST:PORT`)
	badInput(t, []string{"run", "--plan", pl, "--server", url, "--connect", "x:1", "--n", "1"}, "give one")
	if r := srv.Runs(); r != 2+1+2 { // two timed + one warm-up, one timed + one warm-up
		t.Errorf("the server ran %d inferences, want 5", r)
	}
}
