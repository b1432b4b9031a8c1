-- Outbound remote-access connections to private addresses, with the logon each one led to.
WITH outbound AS (
    SELECT "Timestamp" AS ConnectionTime, DeviceName AS SourceDevice, LocalIP AS SourceIP,
        RemoteIP AS TargetIP, RemotePort, InitiatingProcessFileName, InitiatingProcessCommandLine,
        InitiatingProcessId, InitiatingProcessCreationTime, InitiatingProcessAccountName
    FROM DeviceNetworkEvents
    WHERE "Timestamp" BETWEEN $StartTime::TIMESTAMP AND $EndTime::TIMESTAMP AND lower(DeviceName) IN (SELECT lower(unnest($Devices::VARCHAR[]))) AND ActionType = 'ConnectionSuccess' AND RemotePort IN (3389, 445, 5985, 5986, 22)
        AND RemoteIPType = 'Private'
),
target_logons AS (
    SELECT "Timestamp" AS LogonTime, DeviceName AS TargetDevice, RemoteIP AS SourceIP, LogonType,
        AccountDomain, AccountName
    FROM DeviceLogonEvents
    WHERE "Timestamp" BETWEEN $StartTime::TIMESTAMP AND $EndTime::TIMESTAMP AND ActionType = 'LogonSuccess' AND RemoteIP <> ''
),
-- The logons each connection led to: from its address, within the delay, of the type its
-- port ends in.
linked AS (
    SELECT o.ConnectionTime, o.SourceDevice, o.TargetIP, o.RemotePort, t.TargetDevice,
        t.AccountName, t.LogonType, min(t.LogonTime) AS LogonTime
    FROM outbound o JOIN target_logons t ON t.SourceIP = o.SourceIP
    WHERE date_diff('second', o.ConnectionTime, t.LogonTime) BETWEEN 0 AND $MaxDelaySeconds
        AND t.LogonType = CASE WHEN o.RemotePort = 3389 THEN 'RemoteInteractive' ELSE 'Network' END
    GROUP BY ALL
)
SELECT o.ConnectionTime, o.SourceDevice, o.SourceIP, o.TargetIP, o.RemotePort,
    o.InitiatingProcessFileName, o.InitiatingProcessCommandLine, o.InitiatingProcessId,
    o.InitiatingProcessCreationTime, o.InitiatingProcessAccountName,
    coalesce(l.TargetDevice, '') AS TargetDevice, coalesce(l.AccountName, '') AS AccountName,
    coalesce(l.LogonType, '') AS LogonType, min(l.LogonTime) AS LogonTime
FROM outbound o LEFT JOIN linked l
    ON l.ConnectionTime = o.ConnectionTime AND l.SourceDevice = o.SourceDevice
    AND l.TargetIP = o.TargetIP AND l.RemotePort = o.RemotePort
GROUP BY ALL
ORDER BY o.ConnectionTime
