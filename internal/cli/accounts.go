package cli

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/fargo-run/fargo/internal/auth"
	"github.com/fargo-run/fargo/internal/config"
)

func accountsUsage(w io.Writer) {
	fmt.Fprint(w, `Usage:
  fargo accounts create-key --account-id ID   create an access key pair for account ID (12 digits)
  fargo accounts list-keys                    list the keys made with create-key (no secrets)
  fargo accounts delete-key --access-key-id K delete one of them

Each takes --data-dir (env FARGO_DATA_DIR), the data directory of the fargo
server that is to accept the keys. They work whether that server runs or
not: it rereads the keys when they change.
`)
}

// accessKeyOutput is create-key's output, shaped like IAM's CreateAccessKey.
type accessKeyOutput struct {
	AccessKey accessKey `json:"AccessKey"`
}

type accessKey struct {
	AccountID       string    `json:"AccountId"`
	AccessKeyID     string    `json:"AccessKeyId"`
	SecretAccessKey string    `json:"SecretAccessKey,omitempty"`
	Status          string    `json:"Status"`
	CreateDate      time.Time `json:"CreateDate"`
}

func runAccounts(args []string, env Env, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		accountsUsage(stderr)
		return ErrUsage
	}
	sub := args[0]
	fs := flag.NewFlagSet("fargo accounts "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := config.DefaultServer().DataDir
	str(fs, env, &dataDir, "data-dir", "FARGO_DATA_DIR", dataDir, "data directory of the fargo server that accepts the keys")
	var account, keyID string
	switch sub {
	case "create-key":
		fs.StringVar(&account, "account-id", "", "account the key acts for (12 digits)")
	case "delete-key":
		fs.StringVar(&keyID, "access-key-id", "", "access key id to delete")
	case "list-keys":
	case "help", "-h", "--help":
		accountsUsage(stdout)
		return nil
	default:
		fmt.Fprintf(stderr, "fargo accounts: unknown command %q\n", sub)
		accountsUsage(stderr)
		return ErrUsage
	}
	if done, err := parseFlags(fs, args[1:]); done || err != nil {
		return err
	}
	if dataDir == "" {
		return fmt.Errorf("%w: data-dir must not be empty", ErrUsage)
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "    ")
	switch sub {
	case "create-key":
		if account == "" {
			return fmt.Errorf("%w: --account-id is required", ErrUsage)
		}
		key, err := auth.CreateFileKey(dataDir, account)
		if errors.Is(err, auth.ErrBadAccountID) {
			return fmt.Errorf("%w: %v", ErrUsage, err)
		}
		if err != nil {
			return err
		}
		return enc.Encode(accessKeyOutput{AccessKey: outputKey(key, true)})
	case "delete-key":
		if keyID == "" {
			return fmt.Errorf("%w: --access-key-id is required", ErrUsage)
		}
		return auth.DeleteFileKey(dataDir, keyID)
	default: // list-keys
		keys, err := auth.ListFileKeys(dataDir)
		if err != nil {
			return err
		}
		out := struct {
			AccessKeyMetadata []accessKey `json:"AccessKeyMetadata"`
		}{AccessKeyMetadata: []accessKey{}}
		for _, k := range keys {
			out.AccessKeyMetadata = append(out.AccessKeyMetadata, outputKey(k, false))
		}
		return enc.Encode(out)
	}
}

func outputKey(k auth.Key, withSecret bool) accessKey {
	out := accessKey{AccountID: k.Account, AccessKeyID: k.AccessKeyID, Status: "Active", CreateDate: k.CreatedAt}
	if withSecret {
		out.SecretAccessKey = k.SecretAccessKey
	}
	return out
}
