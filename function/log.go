package function

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
)

// NewLogger returns a JSON logger whose keys Cloud Logging understands: severity, message,
// and the trace of the request (logging.googleapis.com/trace) when the context has one.
func NewLogger(w io.Writer, level slog.Level, project string) *slog.Logger {
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) > 0 {
				return a
			}
			switch a.Key {
			case slog.MessageKey:
				a.Key = "message"
			case slog.LevelKey:
				a.Key = "severity"
				if l, ok := a.Value.Any().(slog.Level); ok && l == slog.LevelWarn {
					a.Value = slog.StringValue("WARNING")
				}
			case slog.TimeKey:
				a.Key = "time"
			}
			return a
		},
	})
	return slog.New(traceHandler{Handler: h, project: project})
}

type traceKey struct{}

// withTrace puts the trace id of X-Cloud-Trace-Context ("TRACE_ID/SPAN_ID;o=1") in ctx.
func withTrace(r *http.Request) *http.Request {
	tc := r.Header.Get("X-Cloud-Trace-Context")
	if tc == "" {
		return r
	}
	id, _, _ := strings.Cut(tc, "/")
	return r.WithContext(context.WithValue(r.Context(), traceKey{}, id))
}

type traceHandler struct {
	slog.Handler
	project string
}

func (h traceHandler) Handle(ctx context.Context, r slog.Record) error {
	if id, ok := ctx.Value(traceKey{}).(string); ok && id != "" {
		r.AddAttrs(slog.String("logging.googleapis.com/trace", "projects/"+h.project+"/traces/"+id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h traceHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return traceHandler{h.Handler.WithAttrs(as), h.project}
}

func (h traceHandler) WithGroup(name string) slog.Handler {
	return traceHandler{h.Handler.WithGroup(name), h.project}
}
