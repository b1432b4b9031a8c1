-- Every process event of the devices, without the version-information columns.
SELECT * EXCLUDE (MD5, ProcessVersionInfoCompanyName, ProcessVersionInfoProductName,
    ProcessVersionInfoProductVersion, ProcessVersionInfoInternalFileName,
    ProcessVersionInfoFileDescription, InitiatingProcessMD5,
    InitiatingProcessVersionInfoCompanyName, InitiatingProcessVersionInfoProductName,
    InitiatingProcessVersionInfoProductVersion, InitiatingProcessVersionInfoInternalFileName,
    InitiatingProcessVersionInfoFileDescription)
FROM DeviceProcessEvents
WHERE "Timestamp" BETWEEN $StartTime::TIMESTAMP AND $EndTime::TIMESTAMP AND lower(DeviceName) IN (SELECT lower(unnest($Devices::VARCHAR[])))
ORDER BY "Timestamp"
