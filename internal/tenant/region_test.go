package tenant

import (
	"regexp"
	"testing"
)

func TestValidRegion(t *testing.T) {
	for _, r := range []string{"us-east-1", "eu-central-2", "ap-southeast-5", "sa-east-1", "ca-west-1", "me-central-1",
		"af-south-1", "il-central-1", "mx-central-1", "cn-northwest-1", "us-gov-west-1", "us-iso-east-1",
		"us-isob-east-1", "us-isof-south-1", "eu-isoe-west-1", "eusc-de-east-1"} {
		if !ValidRegion(r) {
			t.Errorf("ValidRegion(%q) = false", r)
		}
	}
	for _, r := range []string{"", "us", "us-east", "us-east-", "-east-1", "us-east-1:111111111111", "US-EAST-1",
		"us-east-1a", "us-east-1-1", "xx-east-1", "local", "eusc-east-1", "us-ea st-1", "us-east-1234", "us--1"} {
		if ValidRegion(r) {
			t.Errorf("ValidRegion(%q) = true", r)
		}
	}
}

// regionOracle is ValidRegion as the regular expressions of the SDKs'
// partition table (with <word> narrowed to lower-case letters).
var regionOracle = regexp.MustCompile(`^(?:(?:us|eu|ap|sa|ca|me|af|il|mx|cn)-[a-z]+|us-gov-[a-z]+|us-iso-[a-z]+|us-isob-[a-z]+|us-isof-[a-z]+|eu-isoe-[a-z]+|eusc-de-[a-z]+)-[0-9]{1,3}$`)

func FuzzValidRegion(f *testing.F) {
	for _, s := range []string{"us-east-1", "us-gov-west-1", "eusc-de-east-1", "us-east-1:111111111111", "eu-isoe-west-1", "us-gov-1", "--", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := ValidRegion(s), regionOracle.MatchString(s); got != want {
			t.Fatalf("ValidRegion(%q) = %v, the partition table says %v", s, got, want)
		}
	})
}
