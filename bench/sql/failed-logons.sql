-- Failed logons per source address, account and logon type.
SELECT DeviceName, RemoteIP, RemoteIPType, AccountDomain, AccountName, LogonType,
    count(*) AS Attempts, min("Timestamp") AS FirstSeen, max("Timestamp") AS LastSeen,
    list_distinct(list(FailureReason)) AS FailureReasons
FROM DeviceLogonEvents
WHERE "Timestamp" BETWEEN $StartTime::TIMESTAMP AND $EndTime::TIMESTAMP AND lower(DeviceName) IN (SELECT lower(unnest($Devices::VARCHAR[]))) AND ActionType = 'LogonFailed'
GROUP BY ALL
ORDER BY Attempts DESC
