package cli

import (
	"flag"
	"fmt"
	"strconv"
	"time"

	"github.com/fargo-run/fargo/internal/config"
)

// connectionFlags defines the connection limits' and timeouts' flags
// (issue 17). It returns the errors of environment values that do not
// parse, by flag name: they matter only if the flag is not given.
func connectionFlags(fs *flag.FlagSet, env Env, cfg *config.Server) map[string]error {
	errs := map[string]error{}
	ints := []struct {
		p             *int
		name, envName string
		help          string
	}{
		{&cfg.APIMaxConns, "api-max-conns", "FARGO_API_MAX_CONNS", "open connections the API listener keeps in all (0: unbounded)"},
		{&cfg.APIMaxConnsPerClient, "api-max-conns-per-client", "FARGO_API_MAX_CONNS_PER_CLIENT", "open API connections per client IP (0: unbounded)"},
		{&cfg.MetadataMaxConns, "metadata-max-conns", "FARGO_METADATA_MAX_CONNS", "open connections the task metadata endpoint keeps in all (0: unbounded)"},
		{&cfg.MetadataMaxConnsPerTask, "metadata-max-conns-per-task", "FARGO_METADATA_MAX_CONNS_PER_TASK", "open task metadata connections per task (0: unbounded)"},
	}
	for _, f := range ints {
		if v := env(f.envName); v != "" {
			if n, err := strconv.Atoi(v); err != nil || n < 0 {
				errs[f.name] = fmt.Errorf("%s=%q: not a number of connections", f.envName, v)
			} else {
				*f.p = n
			}
		}
		fs.IntVar(f.p, f.name, *f.p, f.help+" (env "+f.envName+")")
	}
	if v := env("FARGO_BODY_MIN_RATE"); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err != nil || n < 0 {
			errs["body-min-rate"] = fmt.Errorf("FARGO_BODY_MIN_RATE=%q: not a number of bytes a second", v)
		} else {
			cfg.BodyMinRate = n
		}
	}
	fs.Int64Var(&cfg.BodyMinRate, "body-min-rate", cfg.BodyMinRate,
		"bytes a second a request body must average after body-timeout (0: no rule) (env FARGO_BODY_MIN_RATE)")
	for _, d := range []struct {
		p             *time.Duration
		name, envName string
		help          string
	}{
		{&cfg.IdleTimeout, "idle-timeout", "FARGO_IDLE_TIMEOUT", "close keep-alive connections idle this long"},
		{&cfg.BodyTimeout, "body-timeout", "FARGO_BODY_TIMEOUT", "grace before body-min-rate applies, and the longest a request body may stall"},
	} {
		if err := duration(fs, env, d.p, d.name, d.envName, *d.p, d.help); err != nil {
			errs[d.name] = err
		}
	}
	return errs
}
