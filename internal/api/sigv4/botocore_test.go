package sigv4

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
)

// botocoreScript signs requests with botocore's SigV4Auth and sends them with
// botocore's own urllib3 session, printing one "status name" line each.
const botocoreScript = `
import sys
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.httpsession import URLLib3Session

base = sys.argv[1]
creds = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
tokcreds = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "SESSION/TOKEN+=")
cases = [
    ("json", "POST", "/", {"Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": "AmazonEC2ContainerServiceV20141113.ListClusters"}, b'{"maxResults": 5}', creds),
    ("query-form", "POST", "/", {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
        b"Action=DescribeLoadBalancers&Version=2015-12-01", creds),
    ("odd-path-query", "GET", "/v2/a%20b/c%2Fd/%C3%A9?b=2&a=1&a=0&empty=&sp=a%20b&uni=%C3%BC", {}, b"", creds),
    ("whitespace-headers", "PUT", "/things/1", {"X-Custom": "a \t  b   c", "X-Other": "  x  "}, b"payload", creds),
    ("dot-segments", "GET", "/a//b/./c/../d", {}, b"", creds),
    ("session-token", "POST", "/", {"X-Amz-Target": "Logs_20140328.DescribeLogGroups"}, b"{}", tokcreds),
]
session = URLLib3Session()
for name, method, path, headers, body, c in cases:
    req = AWSRequest(method=method, url=base + path, data=body, headers=headers)
    SigV4Auth(c, "ecs", "us-east-1").add_auth(req)
    resp = session.send(req.prepare())
    print(resp.status_code, name, resp.content.decode()[:300].replace("\n", " "))
`

func TestBotocoreSigned(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed")
	}
	if err := exec.Command(py, "-c", "import botocore").Run(); err != nil {
		t.Skip("botocore not installed")
	}
	v := &Verifier{Credentials: testCreds, Tokens: anyToken{}} // real clock: botocore signs "now"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if _, err := v.Verify(r, body); err != nil {
			http.Error(w, err.Error(), http.StatusForbidden)
		}
	}))
	defer srv.Close()

	out, err := exec.Command(py, "-c", botocoreScript, srv.URL).CombinedOutput()
	if err != nil {
		t.Fatalf("botocore script: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 6 {
		t.Fatalf("want 6 results, got:\n%s", out)
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "200 ") {
			t.Errorf("botocore request rejected: %s", l)
		}
	}
}
