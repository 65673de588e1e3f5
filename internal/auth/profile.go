package auth

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// CLIProfile is what WriteCLIProfile writes.
type CLIProfile struct {
	Name        string
	Key         Key
	Region      string
	EndpointURL string
}

// ProfilePaths returns the AWS CLI's credentials and config files, honouring
// AWS_SHARED_CREDENTIALS_FILE and AWS_CONFIG_FILE as the CLI does.
func ProfilePaths(getenv func(string) string) (credentials, config string, err error) {
	credentials, config = getenv("AWS_SHARED_CREDENTIALS_FILE"), getenv("AWS_CONFIG_FILE")
	if credentials != "" && config != "" {
		return credentials, config, nil
	}
	home := getenv("HOME")
	if home == "" {
		if home, err = os.UserHomeDir(); err != nil {
			return "", "", err
		}
	}
	if credentials == "" {
		credentials = filepath.Join(home, ".aws", "credentials")
	}
	if config == "" {
		config = filepath.Join(home, ".aws", "config")
	}
	return credentials, config, nil
}

// WriteCLIProfile writes (or replaces) the profile's sections in the AWS
// CLI's credentials and config files, leaving every other section as it was.
func WriteCLIProfile(credentialsPath, configPath string, p CLIProfile) error {
	if err := replaceSection(credentialsPath, p.Name, []string{
		"aws_access_key_id = " + p.Key.AccessKeyID,
		"aws_secret_access_key = " + p.Key.SecretAccessKey,
	}); err != nil {
		return err
	}
	return replaceSection(configPath, "profile "+p.Name, []string{
		"region = " + p.Region,
		"endpoint_url = " + p.EndpointURL,
		"output = json",
	})
}

// replaceSection rewrites [section] of an INI file with lines, atomically.
func replaceSection(path, section string, lines []string) error {
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	var out []string
	skipping := false
	header := "[" + section + "]"
	for _, l := range strings.Split(strings.TrimRight(string(old), "\n"), "\n") {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "[") {
			skipping = t == header
		}
		if !skipping && (l != "" || len(out) > 0) {
			out = append(out, l)
		}
	}
	for len(out) > 0 && strings.TrimSpace(out[len(out)-1]) == "" {
		out = out[:len(out)-1]
	}
	if len(out) > 0 {
		out = append(out, "")
	}
	out = append(out, header)
	out = append(out, lines...)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp := path + ".fargo-tmp"
	if err := os.WriteFile(tmp, []byte(strings.Join(out, "\n")+"\n"), 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
