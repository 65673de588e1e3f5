package registry

import (
	"sort"
	"strings"
	"time"
)

// evaluateLifecycle decides which images rules expire at now, as ECR's
// lifecycle evaluator does (ECR user guide, "How lifecycle policies work"
// and the examples page):
//
//	for each rule, lowest rulePriority first:
//	  selected = images whose tags match the rule (tagged: every entry of
//	             the prefix/pattern list matches one of the image's tags;
//	             untagged: no tags; any: all)
//	  candidates = imageCountMoreThan N: selected minus its N newest
//	               sinceImagePushed N:  selected pushed more than N days ago
//	  expire each candidate unless an earlier rule expired it, or its tags
//	  matched an earlier rule (an image matching a higher-priority rule's
//	  tagging requirements cannot be expired by a lower-priority rule)
//
// Counting sees every selected image, expired or not ("rules can still
// identify them as if they haven't been expired"). Images that an image
// index of the repository references are left out: they live and die with
// their index. The result is ordered oldest push first.
func evaluateLifecycle(rules []lifecycleRule, images []Image, now time.Time) []LifecycleResult {
	children := map[string]bool{}
	for _, img := range images {
		for _, m := range img.Manifests {
			children[m.Digest] = true
		}
	}
	var imgs []Image
	for _, img := range images {
		if !children[img.Digest] {
			imgs = append(imgs, img)
		}
	}
	sort.SliceStable(imgs, func(i, j int) bool { // newest first
		if !imgs[i].PushedAt.Equal(imgs[j].PushedAt) {
			return imgs[i].PushedAt.After(imgs[j].PushedAt)
		}
		return imgs[i].Digest < imgs[j].Digest
	})

	expiredBy := map[string]int{} // digest -> rule priority
	claimed := map[string]bool{}  // matched an earlier rule's selection
	for _, rule := range rules {
		var selected []Image
		for _, img := range imgs {
			if rule.selects(img.Tags) {
				selected = append(selected, img)
			}
		}
		var candidates []Image
		switch rule.CountType {
		case lcCountMoreThan:
			if len(selected) > rule.CountNumber {
				candidates = selected[rule.CountNumber:]
			}
		case lcSinceImagePushed:
			limit := time.Duration(rule.CountNumber) * 24 * time.Hour
			for _, img := range selected {
				if now.Sub(img.PushedAt) > limit {
					candidates = append(candidates, img)
				}
			}
		}
		for _, img := range candidates {
			if !claimed[img.Digest] {
				expiredBy[img.Digest] = rule.Priority
			}
		}
		for _, img := range selected {
			claimed[img.Digest] = true
		}
	}

	var out []LifecycleResult
	for i := len(imgs) - 1; i >= 0; i-- {
		img := imgs[i]
		if p, ok := expiredBy[img.Digest]; ok {
			out = append(out, LifecycleResult{
				Digest:       img.Digest,
				Tags:         img.Tags,
				PushedAt:     img.PushedAt,
				RulePriority: p,
				Action:       LifecycleActionExpire,
			})
		}
	}
	return out
}

// selects reports whether the rule's tag selection matches an image with
// these tags.
func (rule *lifecycleRule) selects(tags []string) bool {
	switch rule.TagStatus {
	case lcAny:
		return true
	case lcUntagged:
		return len(tags) == 0
	}
	if len(tags) == 0 {
		return false
	}
	if rule.Prefixes != nil {
		return allMatchSome(rule.Prefixes, tags, strings.HasPrefix)
	}
	return allMatchSome(rule.Patterns, tags, func(tag, pattern string) bool { return starMatch(pattern, tag) })
}

// starMatch matches s against pattern where only '*' is special (any run,
// including none); without a '*' the pattern matches only the exact tag.
func starMatch(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == s
	}
	first, last := parts[0], parts[len(parts)-1]
	if !strings.HasPrefix(s, first) {
		return false
	}
	s = s[len(first):]
	for _, mid := range parts[1 : len(parts)-1] {
		i := strings.Index(s, mid)
		if i < 0 {
			return false
		}
		s = s[i+len(mid):]
	}
	return strings.HasSuffix(s, last)
}

// allMatchSome: every entry matches at least one tag.
func allMatchSome(entries, tags []string, match func(tag, entry string) bool) bool {
	for _, e := range entries {
		ok := false
		for _, t := range tags {
			if match(t, e) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}
