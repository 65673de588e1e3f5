// Package network gives every task its own network namespace and IP
// address (the awsvpc network mode of ECS on Fargate), isolates tenants from
// each other, and publishes container ports on the host for the bridge
// network mode.
//
// # Topology
//
// One Linux bridge per account+region ("subnet"), one veth pair per task:
//
//	 host network namespace                                   task netns (/run/netns/fgo-<task>)
//	+---------------------------------------------------+    +------------------------------+
//	| fgomd (portless bridge) 169.254.170.2/32          |    | lo  127.0.0.1                |
//	|                                                   |    | eth0 10.218.0.2/24 MAC 0a:fa:|
//	| fgobr0000 (bridge, account A / us-east-1)         |    |   default via 10.218.0.1     |
//	|   10.218.0.1/24      gateway                      |    +--------------|---------------+
//	|   169.254.170.2/32   task metadata endpoint       |                   | veth pair
//	|   ports: fgov<hash(task)> ------------------------+-------------------+
//	|          fgov<hash(task2)> ----- task2 netns      |
//	|                                                   |
//	| fgobr0001 (bridge, account B / us-east-1)         |
//	|   10.218.1.1/24, 169.254.170.2/32                 |
//	|   ports: fgov... ---- task3 netns                 |
//	|                                                   |
//	| eth0 (the machine's uplink: never reached by tasks)|
//	+---------------------------------------------------+
//
// # Address plan
//
// Config.Pool (default 10.218.0.0/16) is cut into subnets of
// Config.SubnetBits (default /24). Each account+region gets the next free
// subnet the first time one of its tasks is set up and keeps it (sticky, so
// its SubnetID and CIDR stay stable) for as long as StateDir lives; empty
// subnets are reclaimed only when the pool runs out. Inside a subnet, .0 is
// the network, .1 the gateway (the bridge), the broadcast address is unused,
// and tasks take the lowest free address from .2 up (a released address is
// reused). A task's MAC is 0a:fa followed by its four IPv4 octets, so it is
// unique wherever the IP is, and a reused IP gets the same MAC (no stale ARP).
//
// # Isolation
//
// Same-account traffic is bridged (layer 2) on the account's bridge and
// never routed. Anything else a task sends is either for the host or would
// have to be routed, and fargo never enables net.ipv4.ip_forward: it does not
// need it. Because another program (docker, a VPN) may enable forwarding,
// fargo also owns one nftables table (Config.TableName, default "inet
// fargo") that it rewrites atomically whenever its set of bridges changes:
//
//	table inet fargo {
//	  chain forward { type filter hook forward priority filter - 5; policy accept;
//	    iifname "fgobr0000" oifname "fgobr0000" accept   # one per bridge: same account
//	    iifname "fgo*" counter drop                      # task -> other account, uplink
//	    oifname "fgo*" counter drop                      # anything else -> task
//	  }
//	  chain input { type filter hook input priority filter - 5; policy accept;
//	    iifname "fgo*" ct state established,related accept   # replies to host-initiated
//	    iifname "fgo*" ip daddr 169.254.170.2 accept         # metadata endpoint (any port)
//	    iifname "fgo*" meta l4proto { icmp, ipv6-icmp } accept
//	    iifname "fgo*" counter drop                          # the rest of the host
//	  }
//	}
//
// The forward rules hold with br_netfilter loaded too: bridged packets then
// traverse the forward hook with the bridge as both input and output device,
// which the per-bridge accept rule lets through. The input chain means a task
// can reach the host only at MetadataIP, so a single listener on
// 169.254.170.2:80 serves every task (and fargo may put other task-facing
// endpoints on that address), while host ports published for another account
// stay out of reach. The host itself reaches every task directly.
//
// # Persistence
//
// IPAM state (subnets, tasks, published ports) lives in one JSON file,
// StateDir/network.json, rewritten atomically (temp file, fsync, rename;
// the directory fsync'd too when the subnets changed: tasks' records
// describe kernel objects that a host crash ends anyway) on every change. A file rather than the store: the
// kernel objects it describes are per host, as the file is, and it must be
// readable before the agent can talk to anything. Setup writes the
// allocation once its kernel objects are made (the address is reserved in
// memory meanwhile) and Teardown forgets it after removing them, so after a
// crash Recover sees at worst a record without its objects (released) or
// objects without a record (removed, by their names).
//
// # Lifecycle
//
//	New ──> Recover ──> Setup ⇄ PublishPorts ──> Teardown ──> Close
//
// Recover reconciles the state file with the kernel after a restart: records
// whose netns or veth is gone are released, links and netns files carrying
// the prefix that no record claims are removed, bridges of subnets with no
// task are removed, proxies of published ports are restarted. An account's
// bridge is removed when its last task leaves. Close stops the port proxies
// and, when no task remains, removes the metadata link and the nftables
// table; with tasks left it keeps everything so they keep running while the
// agent restarts.
//
// # The netns directory
//
// Before it pins a namespace, fargo makes Config.NetNSDir a mount point
// with shared propagation, under a flock of the directory, exactly as
// `ip netns add` does (bind it recursively on itself if it is not one yet,
// then make it shared). Otherwise the first `ip netns add` of another
// program would bind the directory over fargo's pins, hiding them: their
// files would answer EBUSY to teardown and the namespaces would leak. Pins
// made before (by an older fargo) are still handled: deleteNetNS detaches
// every mount stacked on a path and, if the file stays busy, unlinks it
// from a private copy of the mount namespace, which frees the hidden pin
// on the host; isNetNS finds a pin hidden from view in mountinfo and pins
// it again where it is seen. fargo never unmounts the directory itself on
// the host: other programs' namespaces live there.
//
// # Load balancer addresses
//
// AcquireAddress gives a load balancer (by owner, its ARN) an address of
// its own from the last SubnetBits block of the pool (10.218.255.0/24 by
// default; subnets leave that block alone while an address is held), as a
// /32 on the metadata link: local to the host, so fargo binds it and the
// host reaches it, and reachable by tasks of every account through their
// gateway (the input chain accepts task traffic to each held address).
// Owners keep their address across restarts (network.json); Recover puts
// the addresses back; ReleaseAddress gives one back. See addresses.go.
//
// # Network modes
//
//   - awsvpc: Setup, Attachment gives what the ENI attachment and the
//     metadata endpoint report.
//   - bridge: Setup too (the task still gets its own netns on the account's
//     bridge), then PublishPorts. Published ports are served by a small
//     userspace TCP/UDP proxy per binding (HostPort 0 lets the kernel pick an
//     ephemeral port), listening on the host (Config.PublishIP, default all
//     addresses, so 127.0.0.1 works) and dialing the task's IP. A proxy needs
//     no DNAT, no route_localnet and no ip_forward, and works for loopback
//     the same as for the host's other addresses; the cost is that the task
//     sees the connection come from its gateway.
//   - host: the containers join the host's network namespace; nothing here.
//   - none: the runtime creates an empty netns; nothing here.
package network
