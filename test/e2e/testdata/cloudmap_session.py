"""Cloud Map through boto3 against fargo (issue 12), through the profile
fargo wrote: namespaces and their asynchronous operations, services,
instances, DiscoverInstances on the data- host (host prefix injection is
switched off: botocore would otherwise send it to data-127.0.0.1), health,
tags, and AWS-shaped errors. Prints the ids the Go test checks after a kill
-9, then "cloudmap session ok". Exits non-zero on the first surprise."""
import sys
import time

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

session = boto3.Session(profile_name="fargo")
sd = session.client("servicediscovery", config=Config(inject_host_prefix=False))


def check(cond, what):
    if not cond:
        sys.exit("boto3 cloudmap: " + what)


def error(fn, **kw):
    try:
        fn(**kw)
    except ClientError as e:
        return e.response["Error"]["Code"], e.response
    sys.exit("boto3 cloudmap: %s succeeded, wanted an error" % fn.__name__)


def wait_op(op_id):
    for _ in range(50):
        op = sd.get_operation(OperationId=op_id)["Operation"]
        if op["Status"] in ("SUCCESS", "FAIL"):
            return op
        time.sleep(0.2)
    sys.exit("operation %s never finished" % op_id)


op = wait_op(sd.create_private_dns_namespace(Name="py.local", Vpc="vpc-0abc", CreatorRequestId="req-1",
                                             Tags=[{"Key": "team", "Value": "py"}])["OperationId"])
check(op["Status"] == "SUCCESS" and op["Type"] == "CREATE_NAMESPACE", "create namespace op: %r" % op)
ns_id = op["Targets"]["NAMESPACE"]
check(ns_id.startswith("ns-") and len(ns_id) == 19, "namespace id %r" % ns_id)
ns = sd.get_namespace(Id=ns_id)["Namespace"]
check(ns["Name"] == "py.local" and ns["Type"] == "DNS_PRIVATE" and ns["Properties"]["DnsProperties"]["HostedZoneId"].startswith("Z"),
      "get_namespace: %r" % ns)
check(ns["Arn"].endswith(":namespace/" + ns_id), "namespace arn %r" % ns["Arn"])

# The same CreatorRequestId with the same request: the same operation;
# with another request: DuplicateRequest. The same name: NamespaceAlreadyExists.
again = sd.create_private_dns_namespace(Name="py.local", Vpc="vpc-0abc", CreatorRequestId="req-1",
                                        Tags=[{"Key": "team", "Value": "py"}])["OperationId"]
check(again == op["Id"], "retry answered another operation: %s vs %s" % (again, op["Id"]))
code, resp = error(sd.create_http_namespace, Name="other", CreatorRequestId="req-1")
check(code == "DuplicateRequest" and resp.get("DuplicateOperationId") == op["Id"], "duplicate request: %s %r" % (code, resp))
code, resp = error(sd.create_private_dns_namespace, Name="py.local", Vpc="vpc-0abc")
check(code == "NamespaceAlreadyExists" and resp.get("NamespaceId") == ns_id, "same name: %s %r" % (code, resp))
code, _ = error(sd.create_private_dns_namespace, Name="bad_-.name..local", Vpc="vpc-0abc")
check(code == "InvalidInput", "bad name: %s" % code)
code, resp = error(sd.create_public_dns_namespace, Name="example.com")
check(code == "InvalidInput" and "public DNS" in resp["Error"]["Message"], "public namespace: %s %r" % (code, resp))

http_op = wait_op(sd.create_http_namespace(Name="py-http")["OperationId"])
http_id = http_op["Targets"]["NAMESPACE"]

svc = sd.create_service(Name="api", NamespaceId=ns_id, DnsConfig={"RoutingPolicy": "MULTIVALUE", "DnsRecords": [{"Type": "A", "TTL": 30}]},
                        HealthCheckCustomConfig={"FailureThreshold": 1})["Service"]
check(svc["Id"].startswith("srv-") and svc["Arn"].endswith(":service/" + svc["Id"]), "create_service: %r" % svc)
code, resp = error(sd.create_service, Name="api", NamespaceId=ns_id, DnsConfig={"DnsRecords": [{"Type": "A", "TTL": 30}]})
check(code == "ServiceAlreadyExists" and resp.get("ServiceId") == svc["Id"], "same service: %s %r" % (code, resp))
code, _ = error(sd.create_service, Name="x", NamespaceId=http_id, DnsConfig={"DnsRecords": [{"Type": "A", "TTL": 30}]})
check(code == "InvalidInput", "DnsConfig in an HTTP namespace: %s" % code)
code, _ = error(sd.create_service, Name="x", NamespaceId="ns-doesnotexist0000")
check(code == "NamespaceNotFound", "missing namespace: %s" % code)
code, _ = error(sd.create_service, Name="c", NamespaceId=ns_id, DnsConfig={"RoutingPolicy": "MULTIVALUE", "DnsRecords": [{"Type": "CNAME", "TTL": 30}]})
check(code == "InvalidInput", "CNAME under MULTIVALUE: %s" % code)

for i, color in enumerate(["red", "red", "blue"]):
    rop = wait_op(sd.register_instance(ServiceId=svc["Id"], InstanceId="i-%d" % i,
                                       Attributes={"AWS_INSTANCE_IPV4": "10.1.0.%d" % (i + 1), "color": color})["OperationId"])
    check(rop["Type"] == "REGISTER_INSTANCE" and rop["Targets"]["INSTANCE"] == "i-%d" % i, "register op: %r" % rop)
code, _ = error(sd.register_instance, ServiceId=svc["Id"], InstanceId="big",
                Attributes={"k%d" % n: "v" for n in range(31)})
check(code in ("InvalidInput", "ResourceLimitExceeded"), "31 attributes: %s" % code)
code, _ = error(sd.register_instance, ServiceId=svc["Id"], InstanceId="noip", Attributes={"color": "red"})
check(code == "InvalidInput", "A service instance without AWS_INSTANCE_IPV4: %s" % code)
code, _ = error(sd.register_instance, ServiceId=svc["Id"], InstanceId="badip", Attributes={"AWS_INSTANCE_IPV4": "10.1.0.300"})
check(code == "InvalidInput", "bad IPv4: %s" % code)

got = sd.discover_instances(NamespaceName="py.local", ServiceName="api", QueryParameters={"color": "red"})
check(sorted(i["InstanceId"] for i in got["Instances"]) == ["i-0", "i-1"], "discover color=red: %r" % got)
rev = got["InstancesRevision"]
got = sd.discover_instances(NamespaceName="py.local", ServiceName="api", OptionalParameters={"color": "green"})
check(len(got["Instances"]) == 3, "optional parameters that match nothing are ignored: %r" % got)

sd.update_instance_custom_health_status(ServiceId=svc["Id"], InstanceId="i-2", Status="UNHEALTHY")
health = sd.get_instances_health_status(ServiceId=svc["Id"])["Status"]
check(health == {"i-0": "HEALTHY", "i-1": "HEALTHY", "i-2": "UNHEALTHY"}, "health: %r" % health)
got = sd.discover_instances(NamespaceName="py.local", ServiceName="api")
check(sorted(i["InstanceId"] for i in got["Instances"]) == ["i-0", "i-1"], "healthy only: %r" % got)
check(sd.discover_instances_revision(NamespaceName="py.local", ServiceName="api")["InstancesRevision"] > rev, "revision did not move")
got = sd.discover_instances(NamespaceName="py.local", ServiceName="api", HealthStatus="UNHEALTHY")
check([i["InstanceId"] for i in got["Instances"]] == ["i-2"], "unhealthy: %r" % got)
got = sd.discover_instances(NamespaceName="py.local", ServiceName="api", HealthStatus="HEALTHY_OR_ELSE_ALL", QueryParameters={"color": "blue"})
check([i["InstanceId"] for i in got["Instances"]] == ["i-2"], "HEALTHY_OR_ELSE_ALL falls back to all: %r" % got)
code, _ = error(sd.discover_instances, NamespaceName="nope.local", ServiceName="api")
check(code == "NamespaceNotFound", "discover in a missing namespace: %s" % code)

code, _ = error(sd.delete_namespace, Id=ns_id)
check(code == "ResourceInUse", "delete a namespace with services: %s" % code)
code, _ = error(sd.delete_service, Id=svc["Id"])
check(code == "ResourceInUse", "delete a service with instances: %s" % code)
wait_op(sd.deregister_instance(ServiceId=svc["Id"], InstanceId="i-1")["OperationId"])
code, _ = error(sd.get_instance, ServiceId=svc["Id"], InstanceId="i-1")
check(code == "InstanceNotFound", "deregistered instance: %s" % code)
code, _ = error(sd.get_operation, OperationId="nope")
check(code == "OperationNotFound", "missing operation: %s" % code)

ops = [o["Id"] for p in sd.get_paginator("list_operations").paginate(
    Filters=[{"Name": "TYPE", "Condition": "IN", "Values": ["REGISTER_INSTANCE", "DEREGISTER_INSTANCE"]}], PaginationConfig={"PageSize": 2}) for o in p["Operations"]]
check(len(ops) == 4 and len(set(ops)) == 4, "list_operations: %r" % ops)

sd.tag_resource(ResourceARN=svc["Arn"], Tags=[{"Key": "env", "Value": "test"}])
tags = sd.list_tags_for_resource(ResourceARN=ns["Arn"])["Tags"]
check(tags == [{"Key": "team", "Value": "py"}], "namespace tags: %r" % tags)
check(sd.list_tags_for_resource(ResourceARN=svc["Arn"])["Tags"] == [{"Key": "env", "Value": "test"}], "service tags")

svcs = sd.list_services(Filters=[{"Name": "NAMESPACE_ID", "Values": [ns_id], "Condition": "EQ"}])["Services"]
check([s["Name"] for s in svcs] == ["api"] and svcs[0]["InstanceCount"] == 2, "list_services: %r" % svcs)
wait_op(sd.update_service(Id=svc["Id"], Service={"Description": "orders API", "DnsConfig": {"DnsRecords": [{"Type": "A", "TTL": 60}]}})["OperationId"])
got = sd.get_service(Id=svc["Id"])["Service"]
check(got["Description"] == "orders API" and got["DnsConfig"]["DnsRecords"][0]["TTL"] == 60, "update_service: %r" % got)

print("IDS %s %s" % (ns_id, svc["Id"]))
print("cloudmap session ok")
