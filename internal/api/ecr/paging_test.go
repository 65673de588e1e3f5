package ecr_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
)

// pageThrough pages a list (first: the items before paging starts),
// letting change add or remove items between pages (it returns those it
// removed), for the first maxChanges pages. Every item of first never removed must come exactly once, none
// twice, and no token may go invalid.
const maxChanges = 4

func pageThrough(t *testing.T, name string, first []string, list func(token *string) ([]string, *string, error), change func(step int) []string) {
	t.Helper()
	always := map[string]bool{}
	for _, a := range first {
		always[a] = true
	}
	seen := map[string]int{}
	var tok *string
	for step := 0; ; step++ {
		if step > 100 {
			t.Fatalf("%s: no last page", name)
		}
		page, next, err := list(tok)
		if err != nil {
			t.Errorf("%s: page %d: %v", name, step+1, err)
			return
		}
		for _, a := range page {
			seen[a]++
		}
		if next == nil {
			break
		}
		tok = next
		if step >= maxChanges {
			continue // let the list end
		}
		for _, a := range change(step) {
			delete(always, a)
		}
	}
	for a := range always {
		if seen[a] != 1 {
			t.Errorf("%s: %s, present throughout, came %d times", name, a, seen[a])
		}
	}
	for a, n := range seen {
		if n > 1 {
			t.Errorf("%s: %s came %d times", name, a, n)
		}
	}
}

// TestPagingUnderChanges: DescribeRepositories, ListImages and
// DescribeImages keep their tokens valid, and skip or repeat nothing,
// while repositories and images come and go between pages.
func TestPagingUnderChanges(t *testing.T) {
	e := newAPIEnv(t)
	ctx := context.Background()
	two := aws.Int32(2)

	var repos []string
	for i := range 5 {
		name := fmt.Sprintf("r%d", i*2)
		if _, err := e.c.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String(name)}); err != nil {
			t.Fatal(err)
		}
		repos = append(repos, name)
	}
	n := 0
	pageThrough(t, "DescribeRepositories", repos, func(tok *string) ([]string, *string, error) {
		out, err := e.c.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{MaxResults: two, NextToken: tok})
		if err != nil {
			return nil, nil, err
		}
		var names []string
		for _, r := range out.Repositories {
			names = append(names, aws.ToString(r.RepositoryName))
		}
		return names, out.NextToken, nil
	}, func(step int) []string {
		n++
		for _, name := range []string{fmt.Sprintf("r%d", n*2-1), fmt.Sprintf("a%d", n)} { // before the position
			if _, err := e.c.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String(name)}); err != nil {
				t.Fatal(err)
			}
		}
		gone := fmt.Sprintf("r%d", 8-step*2)
		if _, err := e.c.DeleteRepository(ctx, &ecr.DeleteRepositoryInput{RepositoryName: aws.String(gone)}); err != nil {
			t.Fatal(err)
		}
		return []string{gone}
	})

	if _, err := e.c.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("r9")}); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range 5 {
		e.push("r9", fmt.Sprintf("t%d", i*2), 10-i, fmt.Sprintf("t%d", i*2))
		ids = append(ids, fmt.Sprintf("t%d", i*2))
	}
	for i := range 3 {
		ids = append(ids, e.push("r9", fmt.Sprintf("u%d", i), 20+i))
	}
	n = 0
	pageThrough(t, "ListImages", ids, func(tok *string) ([]string, *string, error) {
		out, err := e.c.ListImages(ctx, &ecr.ListImagesInput{RepositoryName: aws.String("r9"), MaxResults: two, NextToken: tok})
		if err != nil {
			return nil, nil, err
		}
		var got []string
		for _, id := range out.ImageIds {
			got = append(got, cmpOr(aws.ToString(id.ImageTag), aws.ToString(id.ImageDigest)))
		}
		return got, out.NextToken, nil
	}, func(int) []string {
		n++
		e.push("r9", fmt.Sprintf("t%d", n*2-1), 0, fmt.Sprintf("t%d", n*2-1)) // between tags already listed
		e.push("r9", fmt.Sprintf("new%d", n), 0)                              // untagged
		return nil
	})

	var digests []string
	for i := range 5 {
		digests = append(digests, e.push("r9", fmt.Sprintf("d%d", i), 30+i, fmt.Sprintf("d%d", i)))
	}
	out, err := e.c.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String("r9")})
	if err != nil {
		t.Fatal(err)
	}
	digests = digests[:0]
	for _, d := range out.ImageDetails {
		digests = append(digests, aws.ToString(d.ImageDigest))
	}
	n = 0
	pageThrough(t, "DescribeImages", digests, func(tok *string) ([]string, *string, error) {
		out, err := e.c.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String("r9"), MaxResults: two, NextToken: tok})
		if err != nil {
			return nil, nil, err
		}
		var got []string
		for _, d := range out.ImageDetails {
			got = append(got, aws.ToString(d.ImageDigest))
		}
		return got, out.NextToken, nil
	}, func(step int) []string {
		n++
		e.push("r9", fmt.Sprintf("newer%d", n), 0, fmt.Sprintf("newer%d", n)) // newest: before the listed ones
		gone := digests[len(digests)-1-step]
		if _, err := e.c.BatchDeleteImage(ctx, &ecr.BatchDeleteImageInput{RepositoryName: aws.String("r9"),
			ImageIds: []types.ImageIdentifier{{ImageDigest: aws.String(gone)}}}); err != nil {
			t.Fatal(err)
		}
		return []string{gone}
	})

	for _, bad := range []string{"garbage", "MQ"} { // "MQ": an offset token of old
		_, err := e.c.ListImages(ctx, &ecr.ListImagesInput{RepositoryName: aws.String("r9"), NextToken: aws.String(bad)})
		wantExactAPIError(t, err, "InvalidParameterException", "Invalid parameter at 'nextToken' failed to satisfy constraint: 'The token is invalid or expired'")
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
