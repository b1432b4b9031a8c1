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
-- Every connection pairs with every logon from its address, and a pair that fails the
-- delay or logon type test keeps the connection with blank logon columns, as the pack does.
pairs AS (
    SELECT o.*, t.LogonTime, t.TargetDevice, t.AccountName, t.LogonType,
        coalesce(date_diff('second', o.ConnectionTime, t.LogonTime) BETWEEN 0 AND $MaxDelaySeconds
            AND t.LogonType = CASE WHEN o.RemotePort = 3389 THEN 'RemoteInteractive' ELSE 'Network' END,
            false) AS matched
    FROM outbound o LEFT JOIN target_logons t ON t.SourceIP = o.SourceIP
)
SELECT ConnectionTime, SourceDevice, SourceIP, TargetIP, RemotePort, InitiatingProcessFileName,
    InitiatingProcessCommandLine, InitiatingProcessId, InitiatingProcessCreationTime,
    InitiatingProcessAccountName,
    CASE WHEN matched THEN TargetDevice ELSE '' END AS TargetDevice,
    CASE WHEN matched THEN AccountName ELSE '' END AS AccountName,
    CASE WHEN matched THEN LogonType ELSE '' END AS LogonType,
    min(CASE WHEN matched THEN LogonTime END) AS LogonTime
FROM pairs
GROUP BY ALL
ORDER BY ConnectionTime
