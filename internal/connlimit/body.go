package connlimit

import (
	"io"
	"net/http"
	"time"
)

// BodyRate is the minimum-rate rule for request bodies: a body must have
// arrived at MinRate bytes a second after a Grace period, measured from
// the handler's start, and never stall for longer than Grace. A 1 GiB
// registry upload at any real speed passes; a body that trickles (or
// stops) is cut off, its connection closed. Zero MinRate disables the
// rule.
type BodyRate struct {
	Grace   time.Duration
	MinRate int64 // bytes per second
}

// Handler applies the rule to h's request bodies (through the
// connection's read deadline, so a blocked read ends too).
func (br BodyRate) Handler(h http.Handler) http.Handler {
	if br.MinRate <= 0 {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody {
			h.ServeHTTP(w, r)
			return
		}
		b := &rateBody{ReadCloser: r.Body, rc: http.NewResponseController(w), rule: br, start: time.Now()}
		r.Body = b
		h.ServeHTTP(w, r)
		// net/http reads what the handler left of the body before it
		// reuses the connection: under the same rule.
		if !b.eof {
			b.arm()
		}
	})
}

type rateBody struct {
	io.ReadCloser
	rc    *http.ResponseController
	rule  BodyRate
	start time.Time
	n     int64
	eof   bool
}

// deadline is when the bytes read so far, and the next one, are due: at
// the average rate, and within Grace of now.
func (b *rateBody) deadline() time.Time {
	due := b.start.Add(b.rule.Grace + time.Duration(float64(b.n+1)/float64(b.rule.MinRate)*float64(time.Second)))
	if stall := time.Now().Add(b.rule.Grace); stall.Before(due) {
		return stall
	}
	return due
}

func (b *rateBody) arm() { _ = b.rc.SetReadDeadline(b.deadline()) }

func (b *rateBody) Read(p []byte) (int, error) {
	b.arm()
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	if err == io.EOF {
		// The whole body is in. net/http now reads in the background
		// to see the client go away: with no deadline, or a long
		// handler's context would be cancelled when it passed.
		b.eof = true
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}
