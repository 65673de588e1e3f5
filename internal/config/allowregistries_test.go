package config

import "testing"

func TestValidateAllowRegistries(t *testing.T) {
	for _, r := range []string{"*", "docker.io", "registry.example:5000", "127.0.0.1:4897", "[::1]:5000", "[fd00::5]", "localhost"} {
		c := DefaultServer()
		c.AllowRegistries = []string{r}
		if err := c.Validate(); err != nil {
			t.Errorf("%q: %v", r, err)
		}
	}
	for _, r := range []string{"", "https://docker.io", "docker.io/library", "reg:0", "reg:99999", "reg:x", "*.example.com", "a b", "user@reg"} {
		c := DefaultServer()
		c.AllowRegistries = []string{r}
		if err := c.Validate(); err == nil {
			t.Errorf("%q accepted", r)
		}
	}
}
