package server

import (
	"log/slog"
	"net/http"
	"time"

	"golang.org/x/sys/unix"

	"github.com/fargo-run/fargo/internal/config"
	"github.com/fargo-run/fargo/internal/connlimit"
)

// headerTimeout bounds how long a client may take to send a request's
// head (both listeners).
const headerTimeout = 10 * time.Second

// raiseFileLimit raises the soft RLIMIT_NOFILE to the hard limit (the Go
// runtime does so too since 1.19, but only for a process that does not
// set it itself: this makes it explicit and says what the limit is), and
// warns when the connection limits could take most of it.
func raiseFileLimit(cfg config.Server, log *slog.Logger) {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		log.Warn("cannot read the open-file limit", "err", err)
		return
	}
	if lim.Cur < lim.Max {
		raised := unix.Rlimit{Cur: lim.Max, Max: lim.Max}
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &raised); err != nil {
			log.Warn("cannot raise the open-file limit", "from", lim.Cur, "to", lim.Max, "err", err)
		} else {
			lim = raised
		}
	}
	conns := uint64(cfg.APIMaxConns + cfg.MetadataMaxConns)
	if cfg.APIMaxConns == 0 || cfg.MetadataMaxConns == 0 || 2*conns > lim.Cur {
		log.Warn("the connection limits leave little of the open-file limit to tasks, the store and runc",
			"nofile", lim.Cur, "api_max_conns", cfg.APIMaxConns, "metadata_max_conns", cfg.MetadataMaxConns)
	} else {
		log.Debug("open-file limit", "nofile", lim.Cur)
	}
}

// newHTTPServer is an http.Server for one of fargo's listeners: it closes
// idle keep-alives, slow heads and trickling bodies (issue 17).
func newHTTPServer(cfg config.Server, h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           connlimit.BodyRate{Grace: cfg.BodyTimeout, MinRate: cfg.BodyMinRate}.Handler(h),
		ReadHeaderTimeout: headerTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}
