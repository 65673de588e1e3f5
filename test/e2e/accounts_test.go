package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// createKey runs `fargo accounts create-key` for account with the
// instance's environment (its data directory) and returns the key pair.
func (in *instance) createKey(account string) (id, secret string) {
	in.t.Helper()
	cmd := exec.Command(fargoBin, "accounts", "create-key", "--account-id", account)
	cmd.Env = in.env
	out, err := cmd.Output()
	if err != nil {
		in.t.Fatalf("fargo accounts create-key: %v\n%s", err, out)
	}
	var resp struct {
		AccessKey struct{ AccessKeyId, SecretAccessKey, AccountId string }
	}
	if err := json.Unmarshal(out, &resp); err != nil {
		in.t.Fatalf("create-key output %q: %v", out, err)
	}
	if resp.AccessKey.AccountId != account || !strings.HasPrefix(resp.AccessKey.AccessKeyId, "AKIA") || len(resp.AccessKey.SecretAccessKey) != 40 {
		in.t.Fatalf("create-key output %s", out)
	}
	return resp.AccessKey.AccessKeyId, resp.AccessKey.SecretAccessKey
}

// awsRun runs the AWS CLI with a key pair of its own (no profile) and
// returns its output; a failure's error carries the CLI's stderr.
func (in *instance) awsRun(id, secret string, args ...string) ([]byte, error) {
	in.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, awsCLI(in.t), append([]string{"--endpoint-url", "http://" + in.listen, "--region", "us-east-1", "--output", "json"}, args...)...)
	cmd.Env = append(filterEnv(in.env, "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_PROFILE"),
		"AWS_ACCESS_KEY_ID="+id, "AWS_SECRET_ACCESS_KEY="+secret, "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("aws %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return out, nil
}

// awsAs is awsRun with the output decoded as JSON (none: an empty map).
func (in *instance) awsAs(id, secret string, args ...string) (map[string]any, error) {
	in.t.Helper()
	out, err := in.awsRun(id, secret, args...)
	if err != nil {
		return nil, err
	}
	m := map[string]any{}
	if len(bytes.TrimSpace(out)) > 0 {
		if err := json.Unmarshal(out, &m); err != nil {
			return nil, fmt.Errorf("aws %s: output %q: %v", strings.Join(args, " "), out, err)
		}
	}
	return m, nil
}

// TestAccountsCreateKey: without dev mode, the operator creates access
// keys for new accounts with `fargo accounts create-key`, while fargo runs
// and while it does not; the keys act for their account (and only it), and
// survive a restart.
func TestAccountsCreateKey(t *testing.T) {
	in := newInstance(t)
	in.start()
	in.mustAWS("ecs", "create-cluster", "--cluster-name", "admins")

	id, secret := in.createKey("111111111111") // fargo is running
	who, err := in.awsAs(id, secret, "sts", "get-caller-identity")
	if err != nil || who["Account"] != "111111111111" {
		t.Fatalf("get-caller-identity with the new key: %v %v", who, err)
	}
	list, err := in.awsAs(id, secret, "ecs", "list-clusters")
	if err != nil {
		t.Fatal(err)
	}
	if arns, _ := json.Marshal(list["clusterArns"]); strings.Contains(string(arns), "admins") || strings.Contains(string(arns), "000000000000") {
		t.Fatalf("the new account sees the administrator's clusters: %s", arns)
	}
	if _, err := in.awsAs(id, secret, "ecs", "create-cluster", "--cluster-name", "mine"); err != nil {
		t.Fatal(err)
	}
	if _, err := in.awsAs(id, "wrong-secret-0000000000000000000000000000", "sts", "get-caller-identity"); err == nil {
		t.Fatal("a wrong secret was accepted")
	}

	in.kill()
	id2, secret2 := in.createKey("222222222222") // fargo is not running
	in.start()
	for _, k := range []struct{ id, secret, account string }{{id, secret, "111111111111"}, {id2, secret2, "222222222222"}} {
		if who, err := in.awsAs(k.id, k.secret, "sts", "get-caller-identity"); err != nil || who["Account"] != k.account {
			t.Fatalf("after a restart, get-caller-identity of %s: %v %v", k.account, who, err)
		}
	}

	// list-keys shows the keys without their secrets; delete-key takes
	// one away from the running server.
	ls := exec.Command(fargoBin, "accounts", "list-keys")
	ls.Env = in.env
	if out, err := ls.Output(); err != nil || !strings.Contains(string(out), id2) || strings.Contains(string(out), secret2) {
		t.Fatalf("list-keys: %v %s", err, out)
	}
	del := exec.Command(fargoBin, "accounts", "delete-key", "--access-key-id", id2)
	del.Env = in.env
	if out, err := del.CombinedOutput(); err != nil {
		t.Fatalf("delete-key: %v %s", err, out)
	}
	if _, err := in.awsAs(id2, secret2, "sts", "get-caller-identity"); err == nil {
		t.Fatal("a deleted key is still accepted")
	}
	if who, err := in.awsAs(id, secret, "sts", "get-caller-identity"); err != nil || who["Account"] != "111111111111" {
		t.Fatalf("the other key after a delete: %v %v", who, err)
	}

	bad := exec.Command(fargoBin, "accounts", "create-key", "--account-id", "12")
	bad.Env = in.env
	if out, err := bad.CombinedOutput(); err == nil || !strings.Contains(string(out), "12 digits") {
		t.Fatalf("create-key with a bad account id: %v %s", err, out)
	}
}
