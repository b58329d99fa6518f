package httpx

import "net/http"

// StatusWriter is an http.ResponseWriter that remembers the status code and
// the number of body bytes written. It implements Unwrap so
// http.ResponseController still reaches the underlying writer's optional
// features (deadlines, hijacking, full duplex).
type StatusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

// NewStatusWriter wraps w. If w already is a *StatusWriter it is returned
// as is, so stacked middleware share one recorder.
func NewStatusWriter(w http.ResponseWriter) *StatusWriter {
	if sw, ok := w.(*StatusWriter); ok {
		return sw
	}
	return &StatusWriter{ResponseWriter: w}
}

// WriteHeader records the first final status code and forwards the call.
func (w *StatusWriter) WriteHeader(code int) {
	// 1xx informational responses (except 101) may precede the real one.
	if w.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write records an implicit 200 and counts bytes.
func (w *StatusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

// Flush sends buffered data, if the underlying writer can. It exists
// because some code still type-asserts http.Flusher instead of using
// http.ResponseController.
func (w *StatusWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap returns the wrapped writer, for http.ResponseController.
func (w *StatusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Status returns the status code sent, or 200 if the handler sent nothing
// (net/http then replies 200 with an empty body).
func (w *StatusWriter) Status() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}

// Written reports whether the response headers have been sent.
func (w *StatusWriter) Written() bool { return w.status != 0 }

// Bytes returns the number of body bytes written.
func (w *StatusWriter) Bytes() int64 { return w.bytes }
