-- Successful logons from an address within MaxDelaySeconds after its accepted connection.
WITH connections AS (
    SELECT DeviceId, DeviceName, RemoteIP, RemoteIPType, LocalPort, "Timestamp" AS ConnectionTime
    FROM DeviceNetworkEvents
    WHERE "Timestamp" BETWEEN $StartTime::TIMESTAMP AND $EndTime::TIMESTAMP AND lower(DeviceName) IN (SELECT lower(unnest($Devices::VARCHAR[]))) AND ActionType = 'InboundConnectionAccepted' AND RemoteIP <> ''
),
logons AS (
    SELECT DeviceId, RemoteIP, "Timestamp" AS LogonTime, LogonType, AccountDomain, AccountName,
        AccountSid, IsLocalAdmin
    FROM DeviceLogonEvents
    WHERE "Timestamp" BETWEEN $StartTime::TIMESTAMP AND $EndTime::TIMESTAMP AND lower(DeviceName) IN (SELECT lower(unnest($Devices::VARCHAR[]))) AND ActionType = 'LogonSuccess' AND RemoteIP <> ''
)
-- The BETWEEN on the times lets DuckDB join by range; date_diff then counts whole-second
-- boundaries as Kusto's datetime_diff does.
SELECT DeviceName, c.RemoteIP, RemoteIPType, LocalPort, LogonTime, LogonType, AccountDomain,
    AccountName, AccountSid, IsLocalAdmin, max(ConnectionTime) AS ConnectionTime,
    date_diff('second', max(ConnectionTime), LogonTime) AS DelaySeconds
FROM connections c JOIN logons l
    ON l.DeviceId = c.DeviceId AND l.RemoteIP = c.RemoteIP
    AND l.LogonTime BETWEEN c.ConnectionTime - INTERVAL 1 SECOND
        AND c.ConnectionTime + to_seconds($MaxDelaySeconds + 1)
WHERE date_diff('second', ConnectionTime, LogonTime) BETWEEN 0 AND $MaxDelaySeconds
GROUP BY DeviceName, c.RemoteIP, RemoteIPType, LocalPort, LogonTime, LogonType, AccountDomain,
    AccountName, AccountSid, IsLocalAdmin
ORDER BY LogonTime
