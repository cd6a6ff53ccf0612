package reminders

// FollowUpKeySQLForTest is a follow-up's dedup key in SQL, over a row f
// with id and due_at.
const FollowUpKeySQLForTest = followUpKeySQL
