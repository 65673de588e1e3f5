package paging

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func id(s string) string { return s }

// TestSliceUnderChanges pages through a list that gains and loses items
// between pages: every item present throughout comes exactly once, in
// order, and no token goes invalid.
func TestSliceUnderChanges(t *testing.T) {
	for _, desc := range []bool{false, true} {
		rng := rand.New(rand.NewPCG(1, uint64(len(fmt.Sprint(desc)))))
		for round := range 200 {
			live := map[string]bool{}
			for range rng.IntN(30) {
				live[fmt.Sprintf("k%03d", rng.IntN(100))] = true
			}
			always := map[string]bool{}
			for k := range live {
				always[k] = true
			}
			seen := map[string]int{}
			var order []string
			tok := ""
			for pages := 0; ; pages++ {
				if pages > 200 {
					t.Fatal("no end")
				}
				items := make([]string, 0, len(live))
				for k := range live {
					items = append(items, k)
				}
				rng.Shuffle(len(items), func(i, j int) { items[i], items[j] = items[j], items[i] })
				page, next, err := Slice(items, id, Page{List: "x", Limit: 1 + rng.IntN(3), Token: tok, Descending: desc})
				if err != nil {
					t.Fatalf("round %d page %d: %v", round, pages, err)
				}
				for _, k := range page {
					seen[k]++
					order = append(order, k)
				}
				if next == "" {
					break
				}
				tok = next
				for range rng.IntN(4) { // changes between pages
					k := fmt.Sprintf("k%03d", rng.IntN(100))
					if live[k] {
						delete(live, k)
						delete(always, k)
					} else {
						live[k] = true
					}
				}
			}
			for k := range always {
				if seen[k] != 1 {
					t.Fatalf("round %d: %s present throughout, returned %d times", round, k, seen[k])
				}
			}
			for k, n := range seen {
				if n != 1 {
					t.Fatalf("round %d: %s returned %d times", round, k, n)
				}
			}
			want := slices.Clone(order)
			slices.Sort(want)
			if desc {
				slices.Reverse(want)
			}
			if !slices.Equal(order, want) {
				t.Fatalf("round %d: order %v", round, order)
			}
		}
	}
}

func TestDecodeIsStrict(t *testing.T) {
	good := Encode("ecs.ListTasks", "k")
	var k string
	if err := Decode("ecs.ListTasks", good, &k); err != nil || k != "k" {
		t.Fatalf("round trip: %v %q", err, k)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	for _, bad := range []string{
		"garbage!", "x", good + "=", b64([]byte("{}")), b64([]byte("1")),
		b64([]byte(`{"v":1,"l":"ecs.ListTasks","a":"k","z":1}`)),
		b64([]byte(`{"v":2,"l":"ecs.ListTasks","a":"k"}`)),
		b64([]byte(`{"v":1,"l":"ecs.ListTasks","a":"k"} {}`)),
		b64([]byte(`{"v":1,"l":"ecs.ListTasks","a":7}`)),
		b64([]byte(`{"v":1,"l":"ecs.ListTasks"}`)),
		Encode("ecs.ListServices", "k"), // another list's
		string(make([]byte, MaxTokenLen+1)),
	} {
		if err := Decode("ecs.ListTasks", bad, &k); !errors.Is(err, ErrInvalid) {
			t.Errorf("Decode(%q) = %v, want ErrInvalid", bad, err)
		}
		if _, _, err := Slice([]string{"a"}, id, Page{List: "ecs.ListTasks", Limit: 1, Token: bad}); !errors.Is(err, ErrInvalid) {
			t.Errorf("Slice(%q) = %v, want ErrInvalid", bad, err)
		}
	}
}

func TestKeysSortAsValues(t *testing.T) {
	ns := []int64{-1 << 63, -5, -1, 0, 1, 9, 10, 1 << 40, 1<<63 - 1}
	for i := 1; i < len(ns); i++ {
		if !(Int(ns[i-1]) < Int(ns[i])) || !(Desc(Int(ns[i-1])) > Desc(Int(ns[i]))) {
			t.Errorf("Int(%d) vs Int(%d)", ns[i-1], ns[i])
		}
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 999, time.UTC)
	ts := []time.Time{{}, time.Unix(0, 0), t0, t0.Add(1), t0.Add(time.Second)}
	for i := 1; i < len(ts); i++ {
		if !(Time(ts[i-1]) < Time(ts[i])) {
			t.Errorf("Time(%v) >= Time(%v)", ts[i-1], ts[i])
		}
	}
	if !(Join("a", "z") < Join("a-b", "a")) || !(Join("a", "b") < Join("a", "c")) {
		t.Error("Join does not sort by its parts")
	}
}
