package auth

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// CLIProfile is what SyncCLIProfile writes.
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

// profileState is what SyncCLIProfile last wrote: the values of the keys
// fargo owns, kept in fargo's data directory so that a later start can tell
// a user's edit (kept) from a change of fargo's own (written).
type profileState struct {
	Credentials string `json:"credentials"`
	Config      string `json:"config"`
	Profile     string `json:"profile"`
	AccessKeyID string `json:"accessKeyId"`
	Region      string `json:"region"`
	EndpointURL string `json:"endpointUrl"`
}

// SyncCLIProfile writes the profile into the AWS CLI's credentials and
// config files without undoing a user's edits. A missing profile section is
// written whole. In an existing one, fargo touches only the keys it owns
// (the key pair, region and endpoint_url), and each only when its value
// differs from what fargo wrote there last time (recorded in statePath): a
// new administrator key, another --region or --listen. Every other line,
// section and comment stays as it is, and a file with nothing to change is
// not rewritten.
func SyncCLIProfile(statePath, credentialsPath, configPath string, p CLIProfile) error {
	var last profileState
	if b, err := os.ReadFile(statePath); err == nil {
		if json.Unmarshal(b, &last) != nil {
			last = profileState{} // unreadable: as if never written
		}
	} else if !os.IsNotExist(err) {
		return err
	}
	if last.Credentials != credentialsPath || last.Config != configPath || last.Profile != p.Name {
		last = profileState{} // another HOME or profile: fargo wrote nothing there
	}
	keyChanged := last.AccessKeyID != p.Key.AccessKeyID
	if err := syncSection(credentialsPath, p.Name, []iniKey{
		{"aws_access_key_id", p.Key.AccessKeyID, keyChanged},
		{"aws_secret_access_key", p.Key.SecretAccessKey, keyChanged},
	}); err != nil {
		return err
	}
	if err := syncSection(configPath, "profile "+p.Name, []iniKey{
		{"region", p.Region, last.Region != p.Region},
		{"endpoint_url", p.EndpointURL, last.EndpointURL != p.EndpointURL},
		{"output", "json", false},
	}); err != nil {
		return err
	}
	b, err := json.Marshal(profileState{Credentials: credentialsPath, Config: configPath, Profile: p.Name,
		AccessKeyID: p.Key.AccessKeyID, Region: p.Region, EndpointURL: p.EndpointURL})
	if err != nil {
		return err
	}
	return writeAtomic(statePath, b)
}

// iniKey is one key of a profile section: its value, and whether an
// existing section gets it (set) or keeps what it has.
type iniKey struct {
	name, value string
	set         bool
}

// syncSection updates [section] of an INI file: a missing section is
// appended with every key; in an existing one only the keys marked set are
// replaced in place (or added at the section's end).
func syncSection(path, section string, keys []iniKey) error {
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	text := strings.TrimRight(string(old), "\n")
	var lines []string
	if text != "" {
		lines = strings.Split(text, "\n")
	}
	header := "[" + section + "]"
	start := -1
	for i, l := range lines {
		if strings.TrimSpace(l) == header {
			start = i
			break
		}
	}
	if start < 0 {
		if len(lines) > 0 {
			lines = append(lines, "")
		}
		lines = append(lines, header)
		for _, k := range keys {
			lines = append(lines, k.name+" = "+k.value)
		}
	} else {
		end := len(lines) // the section's lines are start+1 .. end-1
		for i := start + 1; i < len(lines); i++ {
			if strings.HasPrefix(strings.TrimSpace(lines[i]), "[") {
				end = i
				break
			}
		}
		for _, k := range keys {
			if !k.set {
				continue
			}
			found := false
			for i := start + 1; i < end; i++ {
				if iniKeyName(lines[i]) == k.name {
					lines[i], found = k.name+" = "+k.value, true
				}
			}
			if !found {
				at := end // after the section's last non-blank line
				for at > start+1 && strings.TrimSpace(lines[at-1]) == "" {
					at--
				}
				lines = append(lines[:at], append([]string{k.name + " = " + k.value}, lines[at:]...)...)
				end++
			}
		}
	}
	out := strings.Join(lines, "\n") + "\n"
	if out == string(old) {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return writeAtomic(path, []byte(out))
}

// iniKeyName is the key of a "key = value" line at a section's top level
// ("" for comments, blank lines and indented sub-section lines).
func iniKeyName(l string) string {
	if l == "" || l[0] == ' ' || l[0] == '\t' || l[0] == '#' || l[0] == ';' {
		return ""
	}
	name, _, ok := strings.Cut(l, "=")
	if !ok {
		return ""
	}
	return strings.TrimSpace(name)
}

// writeAtomic replaces path with b (mode 0600) through a rename, so a
// reader sees the old file or the new one, never half of it.
func writeAtomic(path string, b []byte) error {
	tmp := path + ".fargo-tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
