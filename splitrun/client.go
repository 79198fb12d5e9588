package splitrun

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/mtlsplit/mtlsplit/linkemu"
	"github.com/mtlsplit/mtlsplit/oip"
)

// client speaks the protocol to one server over kept-alive connections.
type client struct {
	base, model, token string
	hc                 *http.Client
	// link paces requests and replies by formula when uplink (a
	// trace-driven link under the connection) is not set.
	link   *Link
	uplink *linkemu.Link
}

// maxResponseBytes bounds a reply: logits of a few tasks.
const maxResponseBytes = 64 << 20

// baseURL makes addr a base URL: "host:port" means http://host:port.
func baseURL(addr string) (string, error) {
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	u, err := url.Parse(addr)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return "", fmt.Errorf("server %q: want http://HOST:PORT or https://HOST:PORT", addr)
	}
	return u.Scheme + "://" + u.Host, nil
}

func newClient(addr, model, token string, tlsConf *tls.Config, uplink *linkemu.Link, link *Link, maxBody int) (*client, error) {
	base, err := baseURL(addr)
	if err != nil {
		return nil, err
	}
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := d.DialContext(ctx, network, addr)
			if err != nil || uplink == nil {
				return c, err
			}
			// The trace-driven link carries every byte the edge sends,
			// TLS records included.
			lc, err := uplink.Wrap(c)
			if err != nil {
				c.Close()
				return nil, err
			}
			return lc, nil
		},
		TLSClientConfig:     tlsConf,
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     90 * time.Second,
		// One write for the headers and the whole body, so that the
		// headers do not take a delivery opportunity of the trace of
		// their own.
		WriteBufferSize:   min(maxBody+16<<10, 8<<20),
		ForceAttemptHTTP2: false,
	}
	return &client{base: base, model: model, token: token, hc: &http.Client{Transport: tr}, link: link, uplink: uplink}, nil
}

func (c *client) close() { c.hc.CloseIdleConnections() }

// get reads a JSON object from path.
func (c *client) get(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return err
	}
	c.authorize(req)
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return statusError(resp.StatusCode, body)
	}
	return json.Unmarshal(body, v)
}

func (c *client) authorize(req *http.Request) {
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
}

// statusError is a server's refusal, with its protocol error message.
func statusError(code int, body []byte) error {
	var e oip.ErrorBody
	if json.Unmarshal(body, &e) != nil || e.Error == "" {
		e.Error = strings.TrimSpace(string(body))
	}
	return &httpError{code, fmt.Sprintf("%d %s: %s", code, http.StatusText(code), e.Error)}
}

// reply is a decoded response and how it went.
type reply struct {
	resp *oip.Response
	// ms is from sending to the whole reply read; bytes is the reply
	// body's size.
	ms    float64
	bytes int
	sent  int // the request body's bytes
}

// infer posts one request and waits for its reply.
func (c *client) infer(ctx context.Context, r *oip.Request) (reply, error) {
	body, hlen, err := oip.EncodeRequest(r, true)
	if err != nil {
		return reply{}, err
	}
	sent := time.Now()
	if c.uplink == nil {
		c.link.wait(len(body), c.link.up())
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/v2/models/"+url.PathEscape(c.model)+"/infer", bytes.NewReader(body))
	if err != nil {
		return reply{}, err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	if hlen >= 0 {
		req.Header.Set(oip.HeaderContentLength, strconv.Itoa(hlen))
	}
	c.authorize(req)
	resp, err := c.hc.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return reply{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return reply{}, statusError(resp.StatusCode, out)
	}
	c.link.wait(len(out), c.link.down())
	n, err := oip.HeaderLength(resp.Header.Get(oip.HeaderContentLength), len(out))
	if err != nil {
		return reply{}, err
	}
	dec, err := oip.DecodeResponse(out, n)
	if err != nil {
		return reply{}, fmt.Errorf("server's reply: %w", err)
	}
	if dec.ID != r.ID {
		return reply{}, fmt.Errorf("server's reply answers request %q, not %q", dec.ID, r.ID)
	}
	return reply{resp: dec, ms: msSince(sent), bytes: len(out), sent: len(body)}, nil
}
