// Package logs is fargo's CloudWatch Logs domain: log groups, log streams
// and their events, kept in the store so that they survive restarts (and
// kill -9: every acknowledged put is fsync'd). The AWS API adapter
// (internal/api/logs) and the agent's awslogs driver both call *Service.
//
// # Storage layout
//
// Keys live under the scope prefix "logs/<account>/<region>/":
//
//	logs/<acct>/<region>/
//	|
//	+-- groups/<group>                      -> Group JSON (name, creation time,
//	|                                          retention, class, tags)
//	+-- streams/<esc group>/<stream>        -> Stream JSON (creation time, first/last
//	|                                          event timestamps, last ingestion,
//	|                                          stored bytes, next batch sequence)
//	+-- events/<esc group>/<esc stream>/<seq %016d>
//	                                        -> one batch: the events of ONE put,
//	                                           sorted by timestamp, binary encoded:
//	       +-----+-------+-----------+-------+-------+---------------------------------+
//	       | v=1 | count | ingestion | minTs | maxTs | count x (ts delta, len, message)|
//	       +-----+-------+-----------+-------+-------+---------------------------------+
//	        (varints; the header alone says whether a batch can hold wanted events)
//
// Group names may contain '/', stream names may contain '/' (awslogs streams
// are "<prefix>/<container>/<task id>"), so a name that is not the last
// segment of a key is escaped ('%' -> "%25", '/' -> "%2F"): the prefix of one
// group never selects another group's streams or events. Names that are last
// stay readable, and bbolt's key order is the name order DescribeLogGroups
// and DescribeLogStreams want.
//
// # Writes
//
// A put is one store transaction: read the group and stream, write one new
// batch key and the updated stream record. The batch's sequence number is the
// stream's NextSeq, which is also the nextSequenceToken (ignored on input, as
// AWS does now). Concurrent puts share bbolt's group commit, so a put costs
// one small write and a share of one fsync. Deleting a group deletes its
// streams and events in the same transaction.
//
// # Reads
//
// Events are ordered by (timestamp, batch seq, index in batch), a total
// order that is stable across calls; GetLogEvents tokens ("f/<pos>",
// "b/<pos>") and FilterLogEvents tokens are positions in it, and eventIds
// are derived from it, so the same event always has the same id (aws logs
// tail --follow de-duplicates by id). A read lists the stream's batches,
// decodes only the headers of batches outside the wanted time range, and
// merges the rest.
//
// # Retention
//
// Events older than the group's retention are invisible to reads at once;
// PutRetentionPolicy deletes the batches that hold only expired events, and
// a put to a stream whose oldest event has expired does the same for that
// stream in its own transaction.
package logs
