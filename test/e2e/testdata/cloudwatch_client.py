"""CloudWatch e2e client: boto3 over one protocol (argv[1]: json, cbor or
query; botocore 1.43 picks awsJson1_0 for CloudWatch by itself, the others
are selected with a model copy on AWS_DATA_PATH). argv[2]: put, check or
alarm. Prints one JSON object of results."""
import json, math, sys, time, datetime
import boto3, botocore

proto, step, ns = sys.argv[1], sys.argv[2], "E2E/" + sys.argv[1]
c = boto3.session.Session(profile_name="fargo").client("cloudwatch")
seen = []
c.meta.events.register("before-send.cloudwatch.*", lambda request, **kw: seen.append(request.headers.get("Content-Type", b"")))
out = {"resolved": c.meta.service_model.resolved_protocol}
now = datetime.datetime.now(datetime.timezone.utc)
dims = [{"Name": "Svc", "Value": "web"}]

def code(fn):
    try:
        fn()
        return None
    except botocore.exceptions.ClientError as e:
        sys.stderr.write(e.response["Error"].get("Message", "") + "\n")
        return e.response["Error"]["Code"]

if step == "put":
    c.put_metric_data(Namespace=ns, MetricData=[
        {"MetricName": "Lat", "Dimensions": dims, "Value": 10, "Unit": "Milliseconds", "Timestamp": now},
        {"MetricName": "Lat", "Dimensions": dims, "StatisticValues": {"SampleCount": 2, "Sum": 50, "Minimum": 20, "Maximum": 30}, "Unit": "Milliseconds", "Timestamp": now},
        {"MetricName": "Lat", "Dimensions": dims, "Values": [1, 2], "Counts": [3, 1], "Unit": "Milliseconds", "Timestamp": now},
        {"MetricName": "Hits", "Dimensions": dims, "Value": 7, "Unit": "Count", "Timestamp": now, "StorageResolution": 1},
    ])
    out["nan"] = code(lambda: c.put_metric_data(Namespace=ns, MetricData=[{"MetricName": "Lat", "Value": float("nan")}]))
    out["old"] = code(lambda: c.put_metric_data(Namespace=ns, MetricData=[{"MetricName": "Lat", "Value": 1, "Timestamp": now - datetime.timedelta(days=15)}]))
    out["future"] = code(lambda: c.put_metric_data(Namespace=ns, MetricData=[{"MetricName": "Lat", "Value": 1, "Timestamp": now + datetime.timedelta(hours=3)}]))
    out["toomany"] = code(lambda: c.put_metric_data(Namespace=ns, MetricData=[{"MetricName": "Lat", "Value": 1}] * 1001))
    out["both"] = code(lambda: c.put_metric_data(Namespace=ns, MetricData=[{"MetricName": "Lat", "Value": 1, "StatisticValues": {"SampleCount": 1, "Sum": 1, "Minimum": 1, "Maximum": 1}}]))
    out["reserved"] = code(lambda: c.put_metric_data(Namespace="AWS/ECS", MetricData=[{"MetricName": "Lat", "Value": 1}]))
    c.put_metric_alarm(AlarmName="hot-" + proto, Namespace=ns, MetricName="Idle", Dimensions=dims, Statistic="Average",
                       Period=60, EvaluationPeriods=1, Threshold=1000, ComparisonOperator="GreaterThanThreshold",
                       TreatMissingData="ignore",
                       AlarmActions=["arn:aws:autoscaling:us-east-1:000000000000:scalingPolicy:x:resource/ecs/service/c/s:policyName/p"],
                       Tags=[{"Key": "team", "Value": "a"}])
    c.set_alarm_state(AlarmName="hot-" + proto, StateValue="ALARM", StateReason="by hand")
    out["missing_alarm"] = code(lambda: c.delete_alarms(AlarmNames=["nope"]))
elif step == "check":
    start, end = now - datetime.timedelta(minutes=10), now + datetime.timedelta(minutes=2)
    st = c.get_metric_statistics(Namespace=ns, MetricName="Lat", Dimensions=dims, StartTime=start, EndTime=end, Period=600,
                                 Statistics=["Sum", "SampleCount", "Minimum", "Maximum", "Average"])
    out["stats"] = [{k: v for k, v in d.items() if k != "Timestamp"} for d in st["Datapoints"]]
    md = c.get_metric_data(StartTime=start, EndTime=end, MetricDataQueries=[
        {"Id": "lat", "MetricStat": {"Metric": {"Namespace": ns, "MetricName": "Lat", "Dimensions": dims}, "Period": 600, "Stat": "Sum"}},
        {"Id": "hits", "MetricStat": {"Metric": {"Namespace": ns, "MetricName": "Hits", "Dimensions": dims}, "Period": 600, "Stat": "Sum"}},
        {"Id": "total", "Expression": "SUM(METRICS())"},
        {"Id": "calc", "Expression": "(lat + hits) / 2 - 1"},
    ])
    out["data"] = {r["Id"]: r["Values"] for r in md["MetricDataResults"]}
    out["times_ok"] = all(isinstance(t, datetime.datetime) for r in md["MetricDataResults"] for t in r["Timestamps"])
    out["metrics"] = sorted(m["MetricName"] for m in c.list_metrics(Namespace=ns)["Metrics"])
    a = c.describe_alarms(AlarmNames=["hot-" + proto])["MetricAlarms"]
    out["alarm"] = a[0]["StateValue"] if a else None
    out["alarm_reason"] = a[0]["StateReason"] if a else None
    out["for_metric"] = len(c.describe_alarms_for_metric(Namespace=ns, MetricName="Idle", Dimensions=dims)["MetricAlarms"])
    if a:
        out["tags"] = c.list_tags_for_resource(ResourceARN=a[0]["AlarmArn"])["Tags"]
    out["history"] = sorted({h["HistoryItemType"] for h in c.describe_alarm_history(AlarmName="hot-" + proto)["AlarmHistoryItems"]})
elif step == "alarm":
    # A breaching metric under the short period: the alarm must go to ALARM
    # by evaluation (Period 60 lasts FARGO_METRICS_PERIOD), then to OK.
    c.put_metric_alarm(AlarmName="eval-" + proto, Namespace=ns, MetricName="Load", Statistic="Maximum", Period=60,
                       EvaluationPeriods=2, DatapointsToAlarm=2, Threshold=50, ComparisonOperator="GreaterThanThreshold")
    states = []
    deadline = time.time() + 40
    value = 90
    while time.time() < deadline:
        c.put_metric_data(Namespace=ns, MetricData=[{"MetricName": "Load", "Value": value}])
        s = c.describe_alarms(AlarmNames=["eval-" + proto])["MetricAlarms"][0]
        if not states or states[-1][0] != s["StateValue"]:
            states.append((s["StateValue"], s["StateReason"]))
        if s["StateValue"] == "ALARM":
            value = 10
        if s["StateValue"] == "OK" and any(x[0] == "ALARM" for x in states):
            break
        time.sleep(0.5)
    out["states"] = states
out["content_types"] = sorted({t.decode() if isinstance(t, bytes) else t for t in seen})
print(json.dumps(out))
