package tenant

// ValidRegion reports whether name has the shape of an AWS region in one of
// AWS's partitions, as the SDKs' partition table (endpoints' regionRegex)
// spells them:
//
//	aws        (us|eu|ap|sa|ca|me|af|il|mx)-<word>-<n>   us-east-1, ap-southeast-5
//	aws-cn     cn-<word>-<n>                              cn-north-1
//	aws-us-gov us-gov-<word>-<n>                          us-gov-west-1
//	aws-iso*   us-iso-, us-isob-, us-isof-, eu-isoe-<word>-<n>
//	aws-eusc   eusc-de-<word>-<n>
//
// where <word> is lower-case letters and <n> digits. A region reaches ARNs
// and store keys, so anything else (us-east-1:111111111111, US-EAST-1) is
// refused at the front door.
func ValidRegion(name string) bool {
	prefix, rest, ok := cutDash(name)
	if !ok {
		return false
	}
	switch prefix {
	case "us", "eu", "eusc":
		// These partitions have a second, fixed prefix word.
		if w, r, ok := cutDash(rest); ok {
			switch {
			case prefix == "us" && (w == "gov" || w == "iso" || w == "isob" || w == "isof"),
				prefix == "eu" && w == "isoe",
				prefix == "eusc" && w == "de":
				if wordNumber(r) {
					return true
				}
			}
		}
		if prefix == "eusc" {
			return false
		}
	case "ap", "sa", "ca", "me", "af", "il", "mx", "cn":
	default:
		return false
	}
	return wordNumber(rest)
}

// wordNumber reports whether s is <lower-case word>-<digits>.
func wordNumber(s string) bool {
	w, n, ok := cutDash(s)
	if !ok || len(n) > 3 {
		return false
	}
	for i := 0; i < len(w); i++ {
		if w[i] < 'a' || w[i] > 'z' {
			return false
		}
	}
	for i := 0; i < len(n); i++ {
		if n[i] < '0' || n[i] > '9' {
			return false
		}
	}
	return true
}

// cutDash splits s at its first '-'; both sides must be non-empty.
func cutDash(s string) (before, after string, ok bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == '-' {
			return s[:i], s[i+1:], i > 0 && i < len(s)-1
		}
	}
	return "", "", false
}
