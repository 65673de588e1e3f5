package cli

import (
	"flag"
	"fmt"
	"strconv"

	"github.com/fargo-run/fargo/internal/config"
)

// dnsFlags defines the DNS server's flags (issue 12); environment values
// that do not parse go into errs by flag name. It returns the upstreams
// flag's value (comma-separated ip:port).
func dnsFlags(fs *flag.FlagSet, env Env, cfg *config.Server, errs map[string]error) *string {
	for _, f := range []struct {
		p             *int
		name, envName string
		help          string
	}{
		{&cfg.DNSPort, "dns-port", "FARGO_DNS_PORT", "port of the DNS server tasks resolve through, on the metadata address (0: none)"},
		{&cfg.DNSRate, "dns-rate", "FARGO_DNS_RATE", "DNS queries a second each task may send (0: unbounded)"},
	} {
		if v := env(f.envName); v != "" {
			if n, err := strconv.Atoi(v); err != nil || n < 0 {
				errs[f.name] = fmt.Errorf("%s=%q: not a non-negative number", f.envName, v)
			} else {
				*f.p = n
			}
		}
		fs.IntVar(f.p, f.name, *f.p, f.help+" (env "+f.envName+")")
	}
	up := new(string)
	str(fs, env, up, "dns-upstreams", "FARGO_DNS_UPSTREAMS", "",
		"resolvers (comma-separated ip:port) the DNS server forwards other names to (default: /etc/resolv.conf's)")
	return up
}
