package cli

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"strings"
)

// SecurityOptions are the TLS and token flags of serve (server side) and
// run (client side).
type SecurityOptions struct {
	TLSCert, TLSKey string // serve: its certificate; run: a client certificate for mutual TLS
	ClientCA        string // serve: require client certificates signed by this CA
	CACert          string // run: trust this CA for the server's certificate
	TokenFile       string // the bearer token, first line of the file
}

// token reads the bearer token file ("" without one).
func (o *SecurityOptions) token() (string, error) {
	if o.TokenFile == "" {
		return "", nil
	}
	b, err := os.ReadFile(o.TokenFile)
	if err != nil {
		return "", fmt.Errorf("--token-file: %w", err)
	}
	tok, _, _ := strings.Cut(string(b), "\n")
	tok = strings.TrimSpace(tok)
	if tok == "" {
		return "", fmt.Errorf("--token-file %s: the first line is empty; write the token there", o.TokenFile)
	}
	if strings.ContainsAny(tok, " \t") {
		return "", fmt.Errorf("--token-file %s: the token has white space inside; use one word (e.g. from 'openssl rand -hex 32')", o.TokenFile)
	}
	return tok, nil
}

func (o *SecurityOptions) keyPair() ([]tls.Certificate, error) {
	if (o.TLSCert == "") != (o.TLSKey == "") {
		return nil, fmt.Errorf("--tls-cert and --tls-key go together: give both (PEM files) or neither")
	}
	if o.TLSCert == "" {
		return nil, nil
	}
	c, err := tls.LoadX509KeyPair(o.TLSCert, o.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("--tls-cert %s --tls-key %s: %w", o.TLSCert, o.TLSKey, err)
	}
	return []tls.Certificate{c}, nil
}

func certPool(flag, path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s %s: no PEM certificate in the file", flag, path)
	}
	return pool, nil
}

// serverTLS is the server's TLS configuration, nil without --tls-cert.
func (o *SecurityOptions) serverTLS() (*tls.Config, error) {
	certs, err := o.keyPair()
	if err != nil {
		return nil, err
	}
	if certs == nil {
		if o.ClientCA != "" {
			return nil, fmt.Errorf("--client-ca %s needs --tls-cert and --tls-key: client certificates are checked in the TLS handshake", o.ClientCA)
		}
		return nil, nil
	}
	c := &tls.Config{Certificates: certs, MinVersion: tls.VersionTLS12}
	if o.ClientCA != "" {
		if c.ClientCAs, err = certPool("--client-ca", o.ClientCA); err != nil {
			return nil, err
		}
		c.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return c, nil
}

// clientTLS is the edge's TLS configuration for an https:// server (nil:
// the system's roots, no client certificate).
func (o *SecurityOptions) clientTLS() (*tls.Config, error) {
	certs, err := o.keyPair()
	if err != nil {
		return nil, err
	}
	if certs == nil && o.CACert == "" {
		return nil, nil
	}
	c := &tls.Config{Certificates: certs, MinVersion: tls.VersionTLS12}
	if o.CACert != "" {
		if c.RootCAs, err = certPool("--ca-cert", o.CACert); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// warnExposure warns when the server listens beyond loopback without TLS
// or a token: anyone who reaches it can run the model and read its
// answers.
func warnExposure(io *IO, addr string, tls, token bool) {
	host, _, _ := net.SplitHostPort(addr)
	ip := net.ParseIP(host)
	if host == "localhost" || (ip != nil && ip.IsLoopback()) || (tls && token) {
		return
	}
	var missing []string
	if !tls {
		missing = append(missing, "TLS (--tls-cert/--tls-key)")
	}
	if !token {
		missing = append(missing, "a token (--token-file)")
	}
	fmt.Fprintf(io.Err, "warning: --listen %s is reachable from other machines without %s\n", addr, strings.Join(missing, " or "))
}
