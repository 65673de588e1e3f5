package runtime

import (
	"bufio"
	"errors"
	"io/fs"
	"os"
	"strconv"
	"strings"

	"github.com/fargo-run/fargo/internal/errdefs"
)

// resolvedUser is ECS's "user" resolved against the image.
type resolvedUser struct {
	uid, gid uint32
	groups   []uint32 // supplementary groups from /etc/group
	home     string
}

// resolveUser resolves "uid", "uid:gid", "user", "user:group" (and the
// mixed forms) as Docker does: names must exist in the rootfs's
// /etc/passwd and /etc/group; a numeric uid need not, and then its group
// is 0 and its home "/". The files are read through an os.Root so an
// image's symlinks cannot point the lookup at the host's files.
func resolveUser(rootfs, spec string) (resolvedUser, error) {
	userPart, groupPart, hasGroup := strings.Cut(spec, ":")
	if userPart == "" {
		userPart = "0"
	}
	root, err := os.OpenRoot(rootfs)
	if err != nil {
		return resolvedUser{}, errdefs.Invalidf("rootfs %s: %v", rootfs, err)
	}
	defer root.Close()
	passwd, err := readColonFile(root, "etc/passwd")
	if err != nil {
		return resolvedUser{}, err
	}
	groups, err := readColonFile(root, "etc/group")
	if err != nil {
		return resolvedUser{}, err
	}

	u := resolvedUser{home: "/"}
	var name string
	if n, err := strconv.ParseUint(userPart, 10, 32); err == nil {
		u.uid = uint32(n)
		for _, p := range passwd {
			if len(p) >= 7 && p[2] == userPart {
				name, u.gid, u.home = p[0], parseID(p[3]), p[5]
				break
			}
		}
	} else {
		found := false
		for _, p := range passwd {
			if len(p) >= 7 && p[0] == userPart {
				name, u.uid, u.gid, u.home, found = p[0], parseID(p[2]), parseID(p[3]), p[5], true
				break
			}
		}
		if !found {
			return resolvedUser{}, errdefs.Invalidf("unable to find user %s: no matching entries in passwd file", userPart)
		}
	}
	if hasGroup {
		if n, err := strconv.ParseUint(groupPart, 10, 32); err == nil {
			u.gid = uint32(n)
		} else {
			found := false
			for _, g := range groups {
				if len(g) >= 3 && g[0] == groupPart {
					u.gid, found = parseID(g[2]), true
					break
				}
			}
			if !found {
				return resolvedUser{}, errdefs.Invalidf("unable to find group %s: no matching entries in group file", groupPart)
			}
		}
	}
	if name != "" && !hasGroup { // with an explicit group Docker adds no others
		for _, g := range groups {
			if len(g) < 4 {
				continue
			}
			for _, member := range strings.Split(g[3], ",") {
				if member == name {
					if gid := parseID(g[2]); gid != u.gid {
						u.groups = append(u.groups, gid)
					}
				}
			}
		}
	}
	if u.home == "" {
		u.home = "/"
	}
	return u, nil
}

func parseID(s string) uint32 {
	n, _ := strconv.ParseUint(s, 10, 32)
	return uint32(n)
}

// readColonFile reads /etc/passwd-style records; a missing file is empty.
func readColonFile(root *os.Root, name string) ([][]string, error) {
	f, err := root.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, errdefs.Invalidf("reading %s in the image: %v", name, err)
	}
	defer f.Close()
	var out [][]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		out = append(out, strings.Split(line, ":"))
	}
	return out, sc.Err()
}
