package logs

import (
	"context"
	"encoding/base64"
	"fmt"
	"testing"
	"time"
)

// TestListPagingUnderChanges: DescribeLogGroups, DescribeLogStreams and
// FilterLogEvents page by key: groups, streams and events added or removed
// between pages move nothing else, and what is there throughout comes once.
func TestListPagingUnderChanges(t *testing.T) {
	s := newService(t)
	ctx := context.Background()
	for i := range 6 {
		if _, err := s.CreateGroup(ctx, scope, CreateGroupInput{Name: fmt.Sprintf("/g/%d", i*2)}); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]int{}
	tok := ""
	for step := 0; ; step++ {
		groups, next, err := s.DescribeGroups(ctx, scope, "/g/", Page{Limit: 2, Token: tok})
		if err != nil {
			t.Fatalf("groups page %d: %v", step+1, err)
		}
		for _, g := range groups {
			seen[g.Name]++
		}
		if next == "" {
			break
		}
		tok = next
		if step < 3 {
			if _, err := s.CreateGroup(ctx, scope, CreateGroupInput{Name: fmt.Sprintf("/g/%d", step*2+1)}); err != nil {
				t.Fatal(err)
			}
			if err := s.DeleteGroup(ctx, scope, "/g/10"); err != nil && step == 0 {
				t.Fatal(err)
			}
		}
	}
	for i := range 5 {
		if n := seen[fmt.Sprintf("/g/%d", i*2)]; n != 1 {
			t.Errorf("group /g/%d came %d times", i*2, n)
		}
	}

	now := time.Now()
	for i := range 6 {
		name := fmt.Sprintf("s%d", i)
		if _, err := s.CreateStream(ctx, scope, "/g/0", name); err != nil {
			t.Fatal(err)
		}
		if err := s.Put(ctx, scope, "/g/0", name, []Event{{Timestamp: now.Add(time.Duration(i) * time.Second), Message: name}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, order := range []string{OrderByName, OrderByLastEventTime} {
		seen := map[string]int{}
		tok := ""
		for step := 0; ; step++ {
			streams, next, err := s.DescribeStreams(ctx, scope, DescribeStreamsInput{Group: "/g/0", OrderBy: order, Descending: true, Page: Page{Limit: 2, Token: tok}})
			if err != nil {
				t.Fatalf("%s: streams page %d: %v", order, step+1, err)
			}
			for _, st := range streams {
				seen[st.Name]++
			}
			if next == "" {
				break
			}
			tok = next
			if step < 2 {
				if _, err := s.CreateStream(ctx, scope, "/g/0", fmt.Sprintf("new-%s-%d", order, step)); err != nil {
					t.Fatal(err)
				}
			}
		}
		for i := range 6 {
			if n := seen[fmt.Sprintf("s%d", i)]; n != 1 {
				t.Errorf("%s: stream s%d came %d times", order, i, n)
			}
		}
	}

	seen = map[string]int{}
	tok = ""
	for step := 0; ; step++ {
		out, err := s.FilterEvents(ctx, scope, FilterInput{Group: "/g/0", Limit: 2, Token: tok})
		if err != nil {
			t.Fatalf("filter page %d: %v", step+1, err)
		}
		for _, e := range out.Events {
			seen[e.Message]++
		}
		if out.NextToken == "" {
			break
		}
		tok = out.NextToken
		if step < 2 {
			if err := s.Put(ctx, scope, "/g/0", "s0", []Event{{Timestamp: now.Add(-time.Second), Message: "earlier"}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i := range 6 {
		if n := seen[fmt.Sprintf("s%d", i)]; n != 1 {
			t.Errorf("event of s%d came %d times", i, n)
		}
	}
}

// TestListTokensAreStrict: a token that is not one the operation wrote
// is "The specified nextToken is invalid.", not a silent first page.
func TestListTokensAreStrict(t *testing.T) {
	s := newService(t)
	ctx := context.Background()
	for i := range 3 {
		g := fmt.Sprintf("/g/%d", i)
		if _, err := s.CreateGroup(ctx, scope, CreateGroupInput{Name: g}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreateStream(ctx, scope, "/g/0", g); err != nil {
			t.Fatal(err)
		}
	}
	_, groupTok, err := s.DescribeGroups(ctx, scope, "", Page{Limit: 1})
	if err != nil || groupTok == "" {
		t.Fatal(groupTok, err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	for _, bad := range []string{"garbage!", b64([]byte("{}")), b64([]byte(`{"n":"/g/0","x":1}`)), b64([]byte(`{"n":"/g/0"}`)), groupTok + "A"} {
		if _, _, err := s.DescribeGroups(ctx, scope, "", Page{Limit: 1, Token: bad}); err == nil || err.Error() != "The specified nextToken is invalid." {
			t.Errorf("DescribeGroups token %q: %v", bad, err)
		}
		if _, _, err := s.DescribeStreams(ctx, scope, DescribeStreamsInput{Group: "/g/0", Page: Page{Limit: 1, Token: bad}}); err == nil || err.Error() != "The specified nextToken is invalid." {
			t.Errorf("DescribeStreams token %q: %v", bad, err)
		}
		if _, err := s.FilterEvents(ctx, scope, FilterInput{Group: "/g/0", Limit: 1, Token: bad}); err == nil || err.Error() != "The specified nextToken is invalid." {
			t.Errorf("FilterEvents token %q: %v", bad, err)
		}
	}
	if _, _, err := s.DescribeStreams(ctx, scope, DescribeStreamsInput{Group: "/g/0", Page: Page{Limit: 1, Token: groupTok}}); err == nil {
		t.Error("a DescribeLogGroups token was taken by DescribeLogStreams")
	}
}
