-- Successful logons per account, logon type and source.
SELECT DeviceName, AccountDomain, AccountName, LogonType, RemoteIP, RemoteIPType, RemoteDeviceName,
    IsLocalAdmin, count(*) AS Logons, min("Timestamp") AS FirstSeen, max("Timestamp") AS LastSeen
FROM DeviceLogonEvents
WHERE "Timestamp" BETWEEN $StartTime::TIMESTAMP AND $EndTime::TIMESTAMP AND lower(DeviceName) IN (SELECT lower(unnest($Devices::VARCHAR[]))) AND ActionType = 'LogonSuccess'
GROUP BY ALL
ORDER BY FirstSeen
