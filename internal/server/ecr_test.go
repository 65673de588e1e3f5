package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/crane"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/fargo-run/fargo/internal/fargotest"
)

// craneOpts are crane options logged in with c's registry token.
func craneOpts(t *testing.T, c *ecr.Client) []crane.Option {
	pw := fargotest.RegistryPassword(t, c)
	return []crane.Option{crane.Insecure, crane.WithAuth(&authn.Basic{Username: "AWS", Password: pw})}
}

func createRepo(t *testing.T, c *ecr.Client, name string, mods ...func(*ecr.CreateRepositoryInput)) types.Repository {
	t.Helper()
	in := &ecr.CreateRepositoryInput{RepositoryName: aws.String(name)}
	for _, m := range mods {
		m(in)
	}
	out, err := c.CreateRepository(context.Background(), in)
	if err != nil {
		t.Fatalf("CreateRepository %s: %v", name, err)
	}
	return *out.Repository
}

func pushRandom(t *testing.T, ref string, opts []crane.Option) v1.Image {
	t.Helper()
	img, err := random.Image(4096, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := crane.Push(img, ref, opts...); err != nil {
		t.Fatalf("crane push %s: %v", ref, err)
	}
	return img
}

func TestECRRepositoriesAndToken(t *testing.T) {
	s := fargotest.Start(t)
	c := s.ECR()
	ctx := context.Background()
	host := s.RegistryHost()

	repo := createRepo(t, c, "web", func(in *ecr.CreateRepositoryInput) {
		in.Tags = []types.Tag{{Key: aws.String("team"), Value: aws.String("blue")}}
	})
	if got := aws.ToString(repo.RepositoryUri); got != host+"/web" {
		t.Fatalf("repositoryUri %q, want %q", got, host+"/web")
	}
	if got := aws.ToString(repo.RepositoryArn); got != "arn:aws:ecr:us-east-1:000000000000:repository/web" {
		t.Fatalf("arn %q", got)
	}
	if repo.ImageTagMutability != types.ImageTagMutabilityMutable || repo.CreatedAt == nil || aws.ToString(repo.RegistryId) != "000000000000" {
		t.Fatalf("repository %+v", repo)
	}
	_, err := c.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("web")})
	wantAPIError(t, err, "RepositoryAlreadyExistsException", "The repository with name 'web' already exists in the registry with id '000000000000'")
	_, err = c.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("Web")})
	wantAPIError(t, err, "InvalidParameterException", "Invalid parameter at 'repositoryName' failed to satisfy constraint")
	_, err = c.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{"web", "nope"}})
	wantAPIError(t, err, "RepositoryNotFoundException", "The repository with name 'nope' does not exist in the registry with id '000000000000'")

	for _, n := range []string{"a1", "a2", "a3"} {
		createRepo(t, c, n)
	}
	var names []string
	p := ecr.NewDescribeRepositoriesPaginator(c, &ecr.DescribeRepositoriesInput{MaxResults: aws.Int32(2)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page.Repositories {
			names = append(names, aws.ToString(r.RepositoryName))
		}
	}
	if strings.Join(names, ",") != "a1,a2,a3,web" {
		t.Fatalf("paginated names %v", names)
	}

	tok, err := c.GetAuthorizationToken(ctx, &ecr.GetAuthorizationTokenInput{})
	if err != nil {
		t.Fatal(err)
	}
	ad := tok.AuthorizationData[0]
	if aws.ToString(ad.ProxyEndpoint) != "http://"+host {
		t.Fatalf("proxyEndpoint %q", aws.ToString(ad.ProxyEndpoint))
	}
	if d := time.Until(aws.ToTime(ad.ExpiresAt)); d < 11*time.Hour || d > 12*time.Hour+time.Minute {
		t.Fatalf("expiresAt in %v", d)
	}

	tags, err := c.ListTagsForResource(ctx, &ecr.ListTagsForResourceInput{ResourceArn: repo.RepositoryArn})
	if err != nil || len(tags.Tags) != 1 || aws.ToString(tags.Tags[0].Value) != "blue" {
		t.Fatalf("tags %v %v", tags, err)
	}
	_, err = c.TagResource(ctx, &ecr.TagResourceInput{ResourceArn: repo.RepositoryArn, Tags: []types.Tag{{Key: aws.String("aws:x"), Value: aws.String("1")}}})
	wantAPIError(t, err, "InvalidTagParameterException", "aws:")
	many := make([]types.Tag, 50)
	for i := range many {
		many[i] = types.Tag{Key: aws.String(fmt.Sprintf("k%d", i)), Value: aws.String("v")}
	}
	_, err = c.TagResource(ctx, &ecr.TagResourceInput{ResourceArn: repo.RepositoryArn, Tags: many})
	wantAPIError(t, err, "TooManyTagsException", "50")
	if _, err := c.UntagResource(ctx, &ecr.UntagResourceInput{ResourceArn: repo.RepositoryArn, TagKeys: []string{"team"}}); err != nil {
		t.Fatal(err)
	}
	_, err = c.ListTagsForResource(ctx, &ecr.ListTagsForResourceInput{ResourceArn: aws.String("arn:aws:ecr:us-east-1:000000000000:repository/gone")})
	wantAPIError(t, err, "RepositoryNotFoundException", "'gone'")
}

func TestECRCranePushPullDescribe(t *testing.T) {
	s := fargotest.Start(t)
	c := s.ECR()
	ctx := context.Background()
	repo := createRepo(t, c, "team/web")
	opts := craneOpts(t, c)
	uri := aws.ToString(repo.RepositoryUri)

	img := pushRandom(t, uri+":v1", opts)
	want, _ := img.Digest()
	got, err := crane.Digest(uri+":v1", opts...)
	if err != nil || got != want.String() {
		t.Fatalf("digest %s %v, want %s", got, err, want)
	}
	pulled, err := crane.Pull(uri+"@"+want.String(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := pulled.Digest(); d != want {
		t.Fatalf("pulled %s", d)
	}

	d, err := c.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String("team/web")})
	if err != nil || len(d.ImageDetails) != 1 {
		t.Fatalf("describe-images %v %v", d, err)
	}
	det := d.ImageDetails[0]
	m, _ := img.Manifest()
	size := m.Config.Size
	for _, l := range m.Layers {
		size += l.Size
	}
	if aws.ToString(det.ImageDigest) != want.String() || aws.ToInt64(det.ImageSizeInBytes) != size ||
		strings.Join(det.ImageTags, ",") != "v1" || det.ImagePushedAt == nil ||
		aws.ToString(det.ImageManifestMediaType) != string(m.MediaType) {
		t.Fatalf("image detail %+v (size want %d)", det, size)
	}

	// PutImage: the same manifest and tag again is an error; a new tag is not.
	raw, _ := img.RawManifest()
	_, err = c.PutImage(ctx, &ecr.PutImageInput{RepositoryName: aws.String("team/web"), ImageManifest: aws.String(string(raw)), ImageTag: aws.String("v1")})
	wantAPIError(t, err, "ImageAlreadyExistsException", "already exists")
	put, err := c.PutImage(ctx, &ecr.PutImageInput{RepositoryName: aws.String("team/web"), ImageManifest: aws.String(string(raw)), ImageTag: aws.String("latest")})
	if err != nil || aws.ToString(put.Image.ImageId.ImageDigest) != want.String() {
		t.Fatalf("put-image latest: %v %v", put, err)
	}
	_, err = c.PutImage(ctx, &ecr.PutImageInput{RepositoryName: aws.String("team/web"), ImageManifest: aws.String(string(raw)),
		ImageDigest: aws.String("sha256:" + strings.Repeat("0", 64))})
	wantAPIError(t, err, "ImageDigestDoesNotMatchException", "does not match")
	missing := strings.Replace(string(raw), m.Layers[0].Digest.Hex, strings.Repeat("a", 64), 1)
	_, err = c.PutImage(ctx, &ecr.PutImageInput{RepositoryName: aws.String("team/web"), ImageManifest: aws.String(missing), ImageTag: aws.String("bad")})
	wantAPIError(t, err, "LayersNotFoundException", strings.Repeat("a", 64))

	// A second image takes v1; the first keeps "latest".
	img2 := pushRandom(t, uri+":v1", opts)
	d2, _ := img2.Digest()
	ls, err := c.ListImages(ctx, &ecr.ListImagesInput{RepositoryName: aws.String("team/web"), Filter: &types.ListImagesFilter{TagStatus: types.TagStatusTagged}})
	if err != nil || len(ls.ImageIds) != 2 {
		t.Fatalf("list tagged %v %v", ls, err)
	}
	bg, err := c.BatchGetImage(ctx, &ecr.BatchGetImageInput{RepositoryName: aws.String("team/web"),
		ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("v1")}, {ImageTag: aws.String("nope")}}})
	if err != nil || len(bg.Images) != 1 || aws.ToString(bg.Images[0].ImageId.ImageDigest) != d2.String() ||
		len(bg.Failures) != 1 || bg.Failures[0].FailureCode != types.ImageFailureCodeImageNotFound {
		t.Fatalf("batch-get %+v %v", bg, err)
	}
	_, err = c.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String("team/web"), ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("nope")}}})
	wantAPIError(t, err, "ImageNotFoundException", "does not exist within the repository with name 'team/web'")

	// Deleting by tag only untags; the image goes with its last tag.
	del, err := c.BatchDeleteImage(ctx, &ecr.BatchDeleteImageInput{RepositoryName: aws.String("team/web"),
		ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("latest")}, {ImageDigest: aws.String("sha256:" + strings.Repeat("b", 64))}}})
	if err != nil || len(del.ImageIds) != 1 || len(del.Failures) != 1 {
		t.Fatalf("batch-delete %+v %v", del, err)
	}
	un, err := c.ListImages(ctx, &ecr.ListImagesInput{RepositoryName: aws.String("team/web"), Filter: &types.ListImagesFilter{TagStatus: types.TagStatusUntagged}})
	if err != nil || len(un.ImageIds) != 0 {
		t.Fatalf("untagged after delete %+v %v", un, err)
	}

	// IMMUTABLE: a tag cannot move, through the API or the registry.
	if _, err := c.PutImageTagMutability(ctx, &ecr.PutImageTagMutabilityInput{RepositoryName: aws.String("team/web"), ImageTagMutability: types.ImageTagMutabilityImmutable}); err != nil {
		t.Fatal(err)
	}
	_, err = c.PutImage(ctx, &ecr.PutImageInput{RepositoryName: aws.String("team/web"), ImageManifest: aws.String(string(raw)), ImageTag: aws.String("v1")})
	wantAPIError(t, err, "ImageTagAlreadyExistsException", "The image tag 'v1' already exists in the 'team/web' repository and cannot be overwritten because the repository is immutable.")
	if err := crane.Push(img, uri+":v1", opts...); err == nil || !strings.Contains(err.Error(), "TAG_INVALID") {
		t.Fatalf("crane push over an immutable tag: %v", err)
	}

	_, err = c.DeleteRepository(ctx, &ecr.DeleteRepositoryInput{RepositoryName: aws.String("team/web")})
	wantAPIError(t, err, "RepositoryNotEmptyException", "still contains images")
	if _, err := c.DeleteRepository(ctx, &ecr.DeleteRepositoryInput{RepositoryName: aws.String("team/web"), Force: true}); err != nil {
		t.Fatal(err)
	}
	_, err = c.ListImages(ctx, &ecr.ListImagesInput{RepositoryName: aws.String("team/web")})
	wantAPIError(t, err, "RepositoryNotFoundException", "The repository with name 'team/web' does not exist in the registry with id '000000000000'")
}

// TestECRLocalhostMeansTokenAccount: every account's repositoryUri is
// localhost:<port>/<name>, and the token picks the account.
func TestECRLocalhostMeansTokenAccount(t *testing.T) {
	s := fargotest.Start(t)
	a, b := s.ECRAs("111111111111"), s.ECRAs("222222222222")
	ra, rb := createRepo(t, a, "web"), createRepo(t, b, "web")
	if aws.ToString(ra.RepositoryUri) != aws.ToString(rb.RepositoryUri) || aws.ToString(ra.RepositoryUri) != s.RegistryHost()+"/web" {
		t.Fatalf("uris %q %q", aws.ToString(ra.RepositoryUri), aws.ToString(rb.RepositoryUri))
	}
	uri := aws.ToString(ra.RepositoryUri)
	optsA, optsB := craneOpts(t, a), craneOpts(t, b)
	ia := pushRandom(t, uri+":v1", optsA)
	ib := pushRandom(t, uri+":v1", optsB)
	da, _ := ia.Digest()
	db, _ := ib.Digest()
	if got, _ := crane.Digest(uri+":v1", optsA...); got != da.String() {
		t.Fatalf("account A sees %s, want %s", got, da)
	}
	if got, _ := crane.Digest(uri+":v1", optsB...); got != db.String() {
		t.Fatalf("account B sees %s, want %s", got, db)
	}
	// 127.0.0.1 is the same registry.
	ip := strings.Replace(uri, "localhost", "127.0.0.1", 1)
	if got, _ := crane.Digest(ip+":v1", optsB...); got != db.String() {
		t.Fatalf("127.0.0.1 sees %s, want %s", got, db)
	}
	// Another account's repositories are closed without a repository policy.
	_, err := b.DescribeImages(context.Background(), &ecr.DescribeImagesInput{RegistryId: aws.String("111111111111"), RepositoryName: aws.String("web")})
	wantAPIError(t, err, "AccessDeniedException", "222222222222")
}

// uploadLayer pushes blob through the layer part API in parts of size n.
func uploadLayer(t *testing.T, c *ecr.Client, repo string, blob []byte, n int) (string, error) {
	t.Helper()
	ctx := context.Background()
	up, err := c.InitiateLayerUpload(ctx, &ecr.InitiateLayerUploadInput{RepositoryName: aws.String(repo)})
	if err != nil {
		t.Fatal(err)
	}
	for off := 0; off < len(blob); off += n {
		end := min(off+n, len(blob))
		_, err := c.UploadLayerPart(ctx, &ecr.UploadLayerPartInput{RepositoryName: aws.String(repo), UploadId: up.UploadId,
			PartFirstByte: aws.Int64(int64(off)), PartLastByte: aws.Int64(int64(end - 1)), LayerPartBlob: blob[off:end]})
		if err != nil {
			t.Fatal(err)
		}
	}
	sum := sha256.Sum256(blob)
	digest := "sha256:" + hex.EncodeToString(sum[:])
	_, err = c.CompleteLayerUpload(ctx, &ecr.CompleteLayerUploadInput{RepositoryName: aws.String(repo), UploadId: up.UploadId, LayerDigests: []string{digest}})
	return digest, err
}

func TestECRLayerAPI(t *testing.T) {
	s := fargotest.Start(t)
	c := s.ECR()
	ctx := context.Background()
	createRepo(t, c, "layers")

	big := make([]byte, 6<<20+123)
	rand.Read(big)
	layer, err := uploadLayer(t, c, "layers", big, 5<<20)
	if err != nil {
		t.Fatal(err)
	}
	_, err = uploadLayer(t, c, "layers", big, 5<<20)
	wantAPIError(t, err, "LayerAlreadyExistsException", layer)
	small := make([]byte, 3000)
	rand.Read(small)
	_, err = uploadLayer(t, c, "layers", small, 1000)
	wantAPIError(t, err, "LayerPartTooSmallException", "at least")

	up, _ := c.InitiateLayerUpload(ctx, &ecr.InitiateLayerUploadInput{RepositoryName: aws.String("layers")})
	_, err = c.UploadLayerPart(ctx, &ecr.UploadLayerPartInput{RepositoryName: aws.String("layers"), UploadId: up.UploadId,
		PartFirstByte: aws.Int64(10), PartLastByte: aws.Int64(12), LayerPartBlob: []byte("abc")})
	wantAPIError(t, err, "InvalidLayerPartException", "first byte")
	_, err = c.CompleteLayerUpload(ctx, &ecr.CompleteLayerUploadInput{RepositoryName: aws.String("layers"), UploadId: up.UploadId, LayerDigests: []string{layer}})
	wantAPIError(t, err, "EmptyUploadException", "no layer parts")
	_, err = c.CompleteLayerUpload(ctx, &ecr.CompleteLayerUploadInput{RepositoryName: aws.String("layers"), UploadId: aws.String(strings.Repeat("0", 32)), LayerDigests: []string{layer}})
	wantAPIError(t, err, "UploadNotFoundException", "")

	cfg := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	cfgDigest, err := uploadLayer(t, c, "layers", cfg, len(cfg))
	if err != nil {
		t.Fatal(err)
	}
	chk, err := c.BatchCheckLayerAvailability(ctx, &ecr.BatchCheckLayerAvailabilityInput{RepositoryName: aws.String("layers"),
		LayerDigests: []string{layer, "sha256:" + strings.Repeat("c", 64)}})
	if err != nil || len(chk.Layers) != 1 || aws.ToInt64(chk.Layers[0].LayerSize) != int64(len(big)) || len(chk.Failures) != 1 ||
		chk.Failures[0].FailureCode != types.LayerFailureCodeMissingLayerDigest {
		t.Fatalf("check %+v %v", chk, err)
	}
	manifest, _ := json.Marshal(map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"config": map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cfgDigest, "size": len(cfg)},
		"layers": []any{map[string]any{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer, "size": len(big)}},
	})
	if _, err := c.PutImage(ctx, &ecr.PutImageInput{RepositoryName: aws.String("layers"), ImageManifest: aws.String(string(manifest)), ImageTag: aws.String("v1")}); err != nil {
		t.Fatal(err)
	}
	// The image is pullable with crane, and the download URL works as is.
	if _, err := crane.Pull(s.RegistryHost()+"/layers:v1", craneOpts(t, c)...); err != nil {
		t.Fatal(err)
	}
	dl, err := c.GetDownloadUrlForLayer(ctx, &ecr.GetDownloadUrlForLayerInput{RepositoryName: aws.String("layers"), LayerDigest: aws.String(layer)})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(aws.ToString(dl.DownloadUrl))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(body, big) {
		t.Fatalf("download: %d, %d bytes", resp.StatusCode, len(body))
	}
	_, err = c.GetDownloadUrlForLayer(ctx, &ecr.GetDownloadUrlForLayerInput{RepositoryName: aws.String("layers"), LayerDigest: aws.String("sha256:" + strings.Repeat("c", 64))})
	wantAPIError(t, err, "LayersNotFoundException", "does not contain layer")
}

const lifecyclePolicy = `{"rules":[{"rulePriority":1,"description":"keep 1 untagged","selection":{"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}]}`

func TestECRPoliciesAndScanning(t *testing.T) {
	s := fargotest.Start(t)
	c := s.ECR()
	ctx := context.Background()
	createRepo(t, c, "scanned", func(in *ecr.CreateRepositoryInput) {
		in.ImageScanningConfiguration = &types.ImageScanningConfiguration{ScanOnPush: true}
	})
	name := aws.String("scanned")

	_, err := c.GetRepositoryPolicy(ctx, &ecr.GetRepositoryPolicyInput{RepositoryName: name})
	wantAPIError(t, err, "RepositoryPolicyNotFoundException", "Repository policy does not exist for the repository with name 'scanned' in the registry with id '000000000000'")
	_, err = c.SetRepositoryPolicy(ctx, &ecr.SetRepositoryPolicyInput{RepositoryName: name, PolicyText: aws.String("{not json")})
	wantAPIError(t, err, "InvalidParameterException", "Invalid repository policy provided")
	pol := `{"Version":"2012-10-17","Statement":[{"Sid":"pull","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::222222222222:root"},"Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"]}]}`
	if _, err := c.SetRepositoryPolicy(ctx, &ecr.SetRepositoryPolicyInput{RepositoryName: name, PolicyText: aws.String(pol)}); err != nil {
		t.Fatal(err)
	}
	gp, err := c.GetRepositoryPolicy(ctx, &ecr.GetRepositoryPolicyInput{RepositoryName: name})
	if err != nil || aws.ToString(gp.PolicyText) != pol {
		t.Fatalf("get policy %v %v", gp, err)
	}
	if _, err := c.DeleteRepositoryPolicy(ctx, &ecr.DeleteRepositoryPolicyInput{RepositoryName: name}); err != nil {
		t.Fatal(err)
	}
	_, err = c.DeleteRepositoryPolicy(ctx, &ecr.DeleteRepositoryPolicyInput{RepositoryName: name})
	wantAPIError(t, err, "RepositoryPolicyNotFoundException", "")

	_, err = c.GetLifecyclePolicy(ctx, &ecr.GetLifecyclePolicyInput{RepositoryName: name})
	wantAPIError(t, err, "LifecyclePolicyNotFoundException", "Lifecycle policy does not exist for the repository with name 'scanned' in the registry with id '000000000000'")
	_, err = c.GetLifecyclePolicyPreview(ctx, &ecr.GetLifecyclePolicyPreviewInput{RepositoryName: name})
	wantAPIError(t, err, "LifecyclePolicyPreviewNotFoundException", "")
	if _, err := c.PutLifecyclePolicy(ctx, &ecr.PutLifecyclePolicyInput{RepositoryName: name, LifecyclePolicyText: aws.String(lifecyclePolicy)}); err != nil {
		t.Fatal(err)
	}
	gl, err := c.GetLifecyclePolicy(ctx, &ecr.GetLifecyclePolicyInput{RepositoryName: name})
	if err != nil || aws.ToString(gl.LifecyclePolicyText) != lifecyclePolicy {
		t.Fatalf("get lifecycle %v %v", gl, err)
	}
	st, err := c.StartLifecyclePolicyPreview(ctx, &ecr.StartLifecyclePolicyPreviewInput{RepositoryName: name})
	if err != nil || st.Status != types.LifecyclePolicyPreviewStatusComplete {
		t.Fatalf("start preview %v %v", st, err)
	}
	if _, err := c.GetLifecyclePolicyPreview(ctx, &ecr.GetLifecyclePolicyPreviewInput{RepositoryName: name}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteLifecyclePolicy(ctx, &ecr.DeleteLifecyclePolicyInput{RepositoryName: name}); err != nil {
		t.Fatal(err)
	}

	img := pushRandom(t, s.RegistryHost()+"/scanned:v1", craneOpts(t, c))
	dg, _ := img.Digest()
	id := &types.ImageIdentifier{ImageTag: aws.String("v1")}
	_, err = c.StartImageScan(ctx, &ecr.StartImageScanInput{RepositoryName: name, ImageId: id})
	wantAPIError(t, err, "ValidationException", "Image scanning is not available in fargo")
	_, err = c.DescribeImageScanFindings(ctx, &ecr.DescribeImageScanFindingsInput{RepositoryName: name, ImageId: id})
	wantAPIError(t, err, "ScanNotFoundException", dg.String())
	_, err = c.StartImageScan(ctx, &ecr.StartImageScanInput{RepositoryName: name, ImageId: &types.ImageIdentifier{ImageTag: aws.String("nope")}})
	wantAPIError(t, err, "ImageNotFoundException", "")
	d, err := c.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: name})
	if err != nil || d.ImageDetails[0].ImageScanStatus == nil || d.ImageDetails[0].ImageScanStatus.Status != types.ScanStatusUnsupportedImage {
		t.Fatalf("scan status %+v %v", d, err)
	}
	sc, err := c.PutImageScanningConfiguration(ctx, &ecr.PutImageScanningConfigurationInput{RepositoryName: name,
		ImageScanningConfiguration: &types.ImageScanningConfiguration{ScanOnPush: false}})
	if err != nil || sc.ImageScanningConfiguration.ScanOnPush {
		t.Fatalf("scanning config %v %v", sc, err)
	}
}

// crossAccountOpts are crane options for c's account reaching another
// account's registry at host (<acct>.dkr.ecr.<region>.localhost:<port>):
// every connection goes to the test server, as a wildcard DNS entry would.
func crossAccountOpts(t *testing.T, s *fargotest.Server, c *ecr.Client) []crane.Option {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	addr := s.Config.Listen
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	return append(craneOpts(t, c), crane.WithTransport(tr))
}

// pullAll pulls ref's manifest, config and layers and returns its digest.
func pullAll(ref string, opts []crane.Option) (string, error) {
	img, err := crane.Pull(ref, opts...)
	if err != nil {
		return "", err
	}
	if _, err := img.RawConfigFile(); err != nil {
		return "", err
	}
	layers, err := img.Layers()
	if err != nil {
		return "", err
	}
	for _, l := range layers {
		rc, err := l.Compressed()
		if err != nil {
			return "", err
		}
		_, err = io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil {
			return "", err
		}
	}
	d, err := img.Digest()
	return d.String(), err
}

func wantRegistryDenied(t *testing.T, err error) {
	t.Helper()
	var te *transport.Error
	if !errors.As(err, &te) || te.StatusCode != http.StatusForbidden {
		t.Fatalf("got %v, want HTTP 403 DENIED", err)
	}
}

// TestECRCrossAccountRepositoryPolicy: a repository policy that grants
// another account pull lets it pull through /v2/ and BatchGetImage, and
// nothing else; a Deny wins; without a policy the repository is closed.
func TestECRCrossAccountRepositoryPolicy(t *testing.T) {
	s := fargotest.Start(t)
	ctx := context.Background()
	const ownerID, otherID = "111111111111", "222222222222"
	owner, other, third := s.ECRAs(ownerID), s.ECRAs(otherID), s.ECRAs("333333333333")
	repo := createRepo(t, owner, "shared")
	img := pushRandom(t, aws.ToString(repo.RepositoryUri)+":v1", craneOpts(t, owner))
	want, _ := img.Digest()
	raw, _ := img.RawManifest()

	// The other account learns the owner's registry host as `aws ecr
	// get-login-password` users do: from proxyEndpoint.
	tok, err := other.GetAuthorizationToken(ctx, &ecr.GetAuthorizationTokenInput{RegistryIds: []string{ownerID}})
	if err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(aws.ToString(tok.AuthorizationData[0].ProxyEndpoint), "http://")
	if !strings.HasPrefix(host, ownerID+".dkr.ecr."+s.Config.Region+".localhost:") {
		t.Fatalf("proxyEndpoint %q", host)
	}
	ref := host + "/shared:v1"
	otherOpts, thirdOpts := crossAccountOpts(t, s, other), crossAccountOpts(t, s, third)
	batchGet := func(c *ecr.Client) (*ecr.BatchGetImageOutput, error) {
		return c.BatchGetImage(ctx, &ecr.BatchGetImageInput{RegistryId: aws.String(ownerID), RepositoryName: aws.String("shared"),
			ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("v1")}}})
	}
	wantClosed := func(who string, c *ecr.Client, opts []crane.Option) {
		t.Helper()
		_, err := pullAll(ref, opts)
		wantRegistryDenied(t, err)
		_, err = batchGet(c)
		wantAPIError(t, err, "AccessDeniedException", "User in account '"+who+"' is not authorized to perform: ecr:BatchGetImage on resource: arn:aws:ecr:"+
			s.Config.Region+":"+ownerID+":repository/shared")
	}

	// No policy: closed.
	wantClosed(otherID, other, otherOpts)

	// Pull granted to the other account only.
	pol := `{"Version":"2012-10-17","Statement":[{"Sid":"AllowPull","Effect":"Allow",
		"Principal":{"AWS":"arn:aws:iam::` + otherID + `:root"},
		"Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer","ecr:BatchCheckLayerAvailability"]}]}`
	if _, err := owner.SetRepositoryPolicy(ctx, &ecr.SetRepositoryPolicyInput{RepositoryName: aws.String("shared"), PolicyText: aws.String(pol)}); err != nil {
		t.Fatal(err)
	}
	if got, err := pullAll(ref, otherOpts); err != nil || got != want.String() {
		t.Fatalf("cross-account pull: %s %v, want %s", got, err, want)
	}
	bg, err := batchGet(other)
	if err != nil || len(bg.Images) != 1 || aws.ToString(bg.Images[0].ImageManifest) != string(raw) ||
		aws.ToString(bg.Images[0].ImageId.ImageDigest) != want.String() || aws.ToString(bg.Images[0].RegistryId) != ownerID {
		t.Fatalf("cross-account BatchGetImage: %+v %v", bg, err)
	}
	wantClosed("333333333333", third, thirdOpts)
	// Pull is all it grants.
	err = crane.Push(img, host+"/shared:v2", otherOpts...)
	wantRegistryDenied(t, err)
	_, err = other.DescribeImages(ctx, &ecr.DescribeImagesInput{RegistryId: aws.String(ownerID), RepositoryName: aws.String("shared")})
	wantAPIError(t, err, "AccessDeniedException", "ecr:DescribeImages")
	_, err = other.SetRepositoryPolicy(ctx, &ecr.SetRepositoryPolicyInput{RegistryId: aws.String(ownerID), RepositoryName: aws.String("shared"), PolicyText: aws.String(pol)})
	wantAPIError(t, err, "AccessDeniedException", "ecr:SetRepositoryPolicy")

	// An explicit Deny beats an Allow, for the registry and the API alike,
	// but does not restrict the owner.
	deny := `{"Version":"2012-10-17","Statement":[
		{"Sid":"AllowAll","Effect":"Allow","Principal":{"AWS":"` + otherID + `"},"Action":"ecr:*"},
		{"Sid":"DenyPull","Effect":"Deny","Principal":"*","Action":"ecr:BatchGetImage"}]}`
	if _, err := owner.SetRepositoryPolicy(ctx, &ecr.SetRepositoryPolicyInput{RepositoryName: aws.String("shared"), PolicyText: aws.String(deny)}); err != nil {
		t.Fatal(err)
	}
	wantClosed(otherID, other, otherOpts)
	if _, err := other.DescribeImages(ctx, &ecr.DescribeImagesInput{RegistryId: aws.String(ownerID), RepositoryName: aws.String("shared")}); err != nil {
		t.Fatalf("describe-images allowed by ecr:*: %v", err)
	}
	if got, err := pullAll(aws.ToString(repo.RepositoryUri)+":v1", craneOpts(t, owner)); err != nil || got != want.String() {
		t.Fatalf("owner pull under a Deny: %s %v", got, err)
	}

	// Without the policy, closed again.
	if _, err := owner.DeleteRepositoryPolicy(ctx, &ecr.DeleteRepositoryPolicyInput{RepositoryName: aws.String("shared")}); err != nil {
		t.Fatal(err)
	}
	wantClosed(otherID, other, otherOpts)
}

// TestECRLifecyclePolicyPreview previews a policy over images pushed with
// crane, and rejects invalid policy texts with ECR's messages.
func TestECRLifecyclePolicyPreview(t *testing.T) {
	s := fargotest.Start(t)
	c := s.ECR()
	ctx := context.Background()
	repo := createRepo(t, c, "ci")
	uri := aws.ToString(repo.RepositoryUri)
	opts := craneOpts(t, c)
	names := map[string]string{}
	push := func(name, tag string) {
		img := pushRandom(t, uri+":"+tag, opts)
		d, _ := img.Digest()
		names[d.String()] = name
	}
	// Oldest first. Re-pushing "build" leaves the previous build untagged.
	push("prod1", "prod-1")
	push("build1", "build")
	push("prod2", "prod-2")
	push("build2", "build")
	push("rc1", "v1-rc1")
	push("prod3", "prod-3")
	push("build3", "build")

	text := `{"rules":[
		{"rulePriority":10,"description":"keep two prod images","selection":{"tagStatus":"tagged","tagPrefixList":["prod-"],"countType":"imageCountMoreThan","countNumber":2},"action":{"type":"expire"}},
		{"rulePriority":20,"description":"no untagged builds","selection":{"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}},
		{"rulePriority":30,"description":"release candidates","selection":{"tagStatus":"tagged","tagPatternList":["v*-rc*"],"countType":"sinceImagePushed","countUnit":"days","countNumber":1},"action":{"type":"expire"}},
		{"rulePriority":40,"description":"at most four images","selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":4},"action":{"type":"expire"}}]}`
	if _, err := c.PutLifecyclePolicy(ctx, &ecr.PutLifecyclePolicyInput{RepositoryName: aws.String("ci"), LifecyclePolicyText: aws.String(text)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.StartLifecyclePolicyPreview(ctx, &ecr.StartLifecyclePolicyPreviewInput{RepositoryName: aws.String("ci")}); err != nil {
		t.Fatal(err)
	}
	pv, err := c.GetLifecyclePolicyPreview(ctx, &ecr.GetLifecyclePolicyPreviewInput{RepositoryName: aws.String("ci")})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range pv.PreviewResults {
		got = append(got, fmt.Sprintf("%s@%d", names[aws.ToString(r.ImageDigest)], aws.ToInt32(r.AppliedRulePriority)))
	}
	// prod1 by rule 10; build1 by rule 20 (build2 is the newest untagged);
	// rc1 is too young for rule 30. Rule 40 counts all seven images, but
	// the three beyond the newest four (prod2, build1, prod1) were
	// selected by earlier rules, which keeps them out of its reach.
	if want := []string{"prod1@10", "build1@20"}; !slices.Equal(got, want) {
		t.Fatalf("preview %v, want %v", got, want)
	}
	if aws.ToInt32(pv.Summary.ExpiringImageTotalCount) != 2 {
		t.Fatalf("summary %+v", pv.Summary)
	}

	_, err = c.PutLifecyclePolicy(ctx, &ecr.PutLifecyclePolicyInput{RepositoryName: aws.String("ci"),
		LifecyclePolicyText: aws.String(strings.Replace(text, `"rulePriority":40`, `"rulePriority":5`, 1))})
	wantAPIError(t, err, "InvalidParameterException", "Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: 'Lifecycle policy validation failure: Rule for tagStatus=ANY must have the lowest priority per storage class'")
	_, err = c.StartLifecyclePolicyPreview(ctx, &ecr.StartLifecyclePolicyPreviewInput{RepositoryName: aws.String("ci"),
		LifecyclePolicyText: aws.String(strings.Replace(text, `"countNumber":2`, `"countNumber":"2"`, 1))})
	wantAPIError(t, err, "InvalidParameterException", `Lifecycle policy validation failure: instance type (string) does not match any allowed primitive type (allowed: ["integer"])'`)
	_, err = c.SetRepositoryPolicy(ctx, &ecr.SetRepositoryPolicyInput{RepositoryName: aws.String("ci"),
		PolicyText: aws.String(`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"ecr:BatchGetImage","Resource":"*"}]}`)})
	wantAPIError(t, err, "InvalidParameterException", "Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Invalid repository policy provided'")
}
