package ecr_test

import (
	"context"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
)

// TestPutImageTagWithSHA512Digest: PutImage with both imageTag and a
// sha512 imageDigest stores the image under that digest, and the tag
// resolves to it (the digest is not recomputed as sha256).
func TestPutImageTagWithSHA512Digest(t *testing.T) {
	e := newAPIEnv(t)
	ctx := context.Background()
	if _, err := e.c.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("algo")}); err != nil {
		t.Fatal(err)
	}
	sha512d := func(s string) string {
		sum := sha512.Sum512([]byte(s))
		return "sha512:" + hex.EncodeToString(sum[:])
	}
	cfg, layer := `{"image":"sha512"}`, "sha512 layer"
	for _, b := range []string{cfg, layer} {
		if _, err := e.reg.PutBlob(ctx, scope, "algo", sha512d(b), int64(len(b)), strings.NewReader(b)); err != nil {
			t.Fatal(err)
		}
	}
	man := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},`+
		`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%d}]}`,
		sha512d(cfg), len(cfg), sha512d(layer), len(layer))
	want := sha512d(man)
	out, err := e.c.PutImage(ctx, &ecr.PutImageInput{RepositoryName: aws.String("algo"), ImageManifest: aws.String(man),
		ImageTag: aws.String("v1"), ImageDigest: aws.String(want)})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(out.Image.ImageId.ImageDigest); got != want {
		t.Fatalf("PutImage digest %s, want %s", got, want)
	}
	got, err := e.c.BatchGetImage(ctx, &ecr.BatchGetImageInput{RepositoryName: aws.String("algo"),
		ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("v1")}}})
	if err != nil || len(got.Images) != 1 || aws.ToString(got.Images[0].ImageId.ImageDigest) != want {
		t.Fatalf("BatchGetImage %+v %v", got, err)
	}
	d, err := e.c.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String("algo")})
	if err != nil || len(d.ImageDetails) != 1 || aws.ToString(d.ImageDetails[0].ImageDigest) != want {
		t.Fatalf("DescribeImages %+v %v", d, err)
	}
}
